package edgephoto.core

/**
 * The engine seam, as runtime/backends/base.py: a runner only turns named tensors into named
 * tensors. LiteRT (the app), Core ML (iOS) or a pure function (the JVM tests) sit behind it, and
 * [runModel] hides layout, dtype, quantization and fixed batch sizes from the task code.
 */
data class EngineTensor(val name: String, val shape: List<Int?>, val dtype: String)

/** A dense tensor; integer codes are held as exact floats (int8/uint8/int32 up to 2^24). */
class Tensor(val shape: IntArray, val dtype: String, val data: FloatArray) {
    init {
        require(data.size == shape.fold(1) { a, b -> a * b }) { "tensor data ${data.size} != shape ${shape.toList()}" }
    }
}

/** What a runner reports about itself: the bench JSON's `backend` object. */
data class RunnerInfo(
    val backend: String,
    val requestedDevice: String,
    val device: String,
    val accelerator: String?,
    val threads: Int?,
    val engineVersion: String?,
    val fallback: String? = null, // why the requested device was not used, when it was not
)

interface ModelRunner : AutoCloseable {
    val info: RunnerInfo

    fun inputs(): List<EngineTensor>

    fun outputs(): List<EngineTensor>

    fun run(feeds: Map<String, Tensor>): Map<String, Tensor>

    override fun close() {}
}

private fun pick(outputs: Map<String, Tensor>, name: String, index: Int): Tensor {
    outputs[name]?.let { return it }
    val values = outputs.values.toList()
    if (values.size <= index) invalid("backend returned no output '$name' (got ${outputs.keys})")
    return values[index]
}

/** (N, ...) output tensor, NHWC or NCHW, to N images (H, W, C). */
private fun toImages(tensor: Tensor, layout: String, count: Int, facts: TensorFacts): List<FloatImage> {
    val s = tensor.shape
    val (h, w, c) = when (s.size) {
        4 -> if (layout == "NCHW") Triple(s[2], s[3], s[1]) else Triple(s[1], s[2], s[3])
        3 -> Triple(s[1], s[2], 1)
        2 -> Triple(1, 1, s[1])
        else -> invalid("output '${facts.name}' of rank ${s.size} is not an image batch")
    }
    val per = h * w * c
    val codes = isIntegerDtype(tensor.dtype)
    return List(count) { n ->
        val out = FloatImage(h, w, c)
        for (y in 0 until h) for (x in 0 until w) for (k in 0 until c) {
            val src = if (s.size == 4 && layout == "NCHW") n * per + (k * h + y) * w + x else n * per + (y * w + x) * c + k
            out.data[(y * w + x) * c + k] = facts.dequantize(tensor.data[src], codes)
        }
        out
    }
}

/**
 * Feed N images of 0..255 pixels (all the input's size); every output for each, NHWC, dequantized.
 * Returns outputs[k][n]. A fixed engine batch gets padded with the last image and run in chunks.
 */
fun runModel(runner: ModelRunner, facts: ModelFacts, pixels: List<FloatImage>): List<List<FloatImage>> {
    val spec = facts.input
    val norm = spec.normalization ?: Normalization()
    val engineInputs = runner.inputs()
    val engine = engineInputs.firstOrNull { it.name == spec.name } ?: engineInputs.singleOrNull()
    val feeds = pixels.map { image ->
        val coloured = modelColour(image, norm)
        when {
            engine != null && isIntegerDtype(engine.dtype) && !isIntegerDtype(spec.dtype) -> {
                val real = norm.apply(coloured, "float32")
                FloatImage(real.height, real.width, real.channels, FloatArray(real.data.size) { spec.quantize(real.data[it], engine.dtype).toFloat() })
            }
            spec.sourceDtype != null -> norm.apply(coloured, spec.sourceDtype)
            else -> norm.apply(coloured, spec.dtype)
        }
    }
    val feedName = engine?.name ?: spec.name
    val feedDtype = engine?.dtype ?: spec.sourceDtype?.let { "float32" } ?: spec.dtype
    val fixed = if (engine != null && engine.shape.isNotEmpty()) engine.shape[0] else spec.batch
    val step = fixed ?: feeds.size
    val results = List(facts.outputs.size) { mutableListOf<FloatImage>() }
    for (start in feeds.indices step step) {
        val part = feeds.subList(start, minOf(start + step, feeds.size)).toMutableList()
        val real = part.size
        while (fixed != null && part.size < fixed) part.add(part.last())
        val first = part[0]
        val (h, w, c) = Triple(first.height, first.width, first.channels)
        val data = FloatArray(part.size * h * w * c)
        for ((n, image) in part.withIndex()) {
            if (spec.layout == "NCHW") {
                for (k in 0 until c) for (y in 0 until h) for (x in 0 until w) data[n * h * w * c + (k * h + y) * w + x] = image[y, x, k]
            } else {
                System.arraycopy(image.data, 0, data, n * h * w * c, h * w * c)
            }
        }
        val shape = if (spec.layout == "NCHW") intArrayOf(part.size, c, h, w) else intArrayOf(part.size, h, w, c)
        val out = runner.run(mapOf(feedName to Tensor(shape, feedDtype, data)))
        for ((k, tensor) in facts.outputs.withIndex()) {
            results[k].addAll(toImages(pick(out, tensor.name, k), tensor.layout, real, tensor))
        }
    }
    return results
}

/** A runner that is a pure function of its input: the "reference backend" the JVM tests run. */
class FunctionRunner(
    private val input: EngineTensor,
    private val output: EngineTensor,
    override val info: RunnerInfo = RunnerInfo("function", "cpu", "cpu", null, 1, null),
    private val fn: (Tensor) -> Tensor,
) : ModelRunner {
    var calls = 0
        private set

    override fun inputs() = listOf(input)

    override fun outputs() = listOf(output)

    override fun run(feeds: Map<String, Tensor>): Map<String, Tensor> {
        calls += 1
        val feed = feeds[input.name] ?: invalid("no feed '${input.name}' (got ${feeds.keys})")
        return mapOf(output.name to fn(feed))
    }
}
