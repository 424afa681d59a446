package edgephoto.core

import kotlin.math.max

/**
 * Super-resolution, ported from runtime/tasks/upscale.py: RGB models take tiles of the photo;
 * luma models (FSRCNN, colour 'Y') see the BT.601 Y plane and Cb/Cr are enlarged bicubically in
 * the same row strips as Python's, so even the rounding to 8 bits lands on the same rows.
 */
private const val FLUSH_ROWS = 64

/** Input px one engine call of an open-H/W model may take within the memory budget. */
fun budgetPx(facts: ModelFacts, budgetBytes: Long?, batch: Int = 1): Long {
    val perPx = 4L * batch * ((facts.input.channels ?: 3) + 2 * 64 + facts.scale * facts.scale * (facts.output().channels ?: 3))
    return max((budgetBytes ?: DEFAULT_BUDGET) / perPx, 1L)
}

data class UpscalePlan(val tileH: Int, val tileW: Int, val overlap: Int, val margin: Int, val whole: Boolean)

/** plan(): fixed models their size; open H/W the whole photo (no overlap) within budget, else even tiles. */
fun upscalePlan(facts: ModelFacts, height: Int, width: Int, batch: Int = 1, budgetBytes: Long? = null, overlap: Int? = null, tile: Int? = null): UpscalePlan {
    val wanted = overlap ?: defaultOverlap(facts)
    val (h, w) = facts.input.hw
    val (th, tw, ov) = when {
        h != null && w != null -> Triple(h, w, wanted)
        tile != null && tile > 0 -> Triple(tile, tile, wanted)
        height.toLong() * width <= budgetPx(facts, budgetBytes, batch) -> Triple(height, width, 0)
        else -> {
            val limit = budgetPx(facts, budgetBytes, batch).coerceAtMost(Int.MAX_VALUE.toLong()).toInt()
            val (eh, ew) = evenTiles(height, width, limit, wanted, max(facts.tile, wanted + 8))
            Triple(eh, ew, wanted)
        }
    }
    val whole = ov == 0 && th == height && tw == width && h == null && w == null
    return UpscalePlan(th, tw, ov, marginFor(facts.receptiveField, ov), whole)
}

/** ycbcr_planes: three float32 planes, left-to-right float32 sums. */
fun ycbcrPlanes(rgb: Rgb8): Triple<FloatImage, FloatImage, FloatImage> {
    val n = rgb.height * rgb.width
    val y = FloatImage(rgb.height, rgb.width, 1)
    val cb = FloatImage(rgb.height, rgb.width, 1)
    val cr = FloatImage(rgb.height, rgb.width, 1)
    for (i in 0 until n) {
        val r = (rgb.data[3 * i].toInt() and 0xFF).toFloat()
        val g = (rgb.data[3 * i + 1].toInt() and 0xFF).toFloat()
        val b = (rgb.data[3 * i + 2].toInt() and 0xFF).toFloat()
        y.data[i] = 0.299f * r + 0.587f * g + 0.114f * b
        cb.data[i] = -0.168736f * r - 0.331264f * g + 0.5f * b + 128f
        cr.data[i] = 0.5f * r - 0.418688f * g - 0.081312f * b + 128f
    }
    return Triple(y, cb, cr)
}

private val CHROMA_GAINS = listOf(Pair(0.0, 1.402), Pair(-0.344136, -0.714136), Pair(1.772, 0.0))

/** planes_to_uint8: y + const + k_cr*cr + k_cb*cb per channel in float32, clipped, truncated. */
fun planesToUint8(y: FloatArray, cb: FloatArray, cr: FloatArray): ByteArray {
    val out = ByteArray(y.size * 3)
    for ((c, gains) in CHROMA_GAINS.withIndex()) {
        val (kCb, kCr) = gains
        val constant = (0.5 - 128.0 * (kCb + kCr)).toFloat()
        for (i in y.indices) {
            var plane = y[i] + constant
            if (kCr != 0.0) plane += cr[i] * kCr.toFloat()
            if (kCb != 0.0) plane += cb[i] * kCb.toFloat()
            out[3 * i + c] = plane.coerceIn(0f, 255f).toInt().toByte()
        }
    }
    return out
}

/** Upscale an 8-bit photo by the model's scale; 8-bit (H*s, W*s). */
fun upscale(runner: ModelRunner, facts: ModelFacts, rgb: Rgb8, batch: Int = 1, overlap: Int? = null, budgetBytes: Long? = null, ramp: String = "cosine", progress: ((Int, Int) -> Unit)? = null): Rgb8 {
    val s = facts.scale
    val plan = upscalePlan(facts, rgb.height, rgb.width, batch, budgetBytes, overlap)
    val outNorm = facts.output().normalization
    val toPixels = { v: FloatImage -> outNorm?.invert(v) ?: v }
    val run: RunBatch = { tiles -> runModel(runner, facts, tiles)[0] }
    val luma = facts.input.normalization?.color == "Y"
    val outH = rgb.height * s
    val outW = rgb.width * s
    val source = if (luma) null else rgb.toFloat()
    val planes = if (luma) ycbcrPlanes(rgb) else null
    val input = source ?: planes!!.first
    val blended = if (plan.whole) {
        progress?.invoke(1, 1)
        run(listOf(input))[0]
    } else {
        tileImage(input, run, plan.tileH, plan.tileW, plan.overlap, s, batch, plan.margin, ramp, progress = progress)
    }
    val pixels = toPixels(blended)
    if (!luma) return pixels.toRgb8()
    val result = Rgb8(outH, outW)
    for ((y0, n) in strips(plan, rgb.height, outH, outW, s)) {
        val box = floatArrayOf(0f, (y0.toDouble() / s).toFloat(), rgb.width.toFloat(), ((y0 + n).toDouble() / s).toFloat())
        val cb = resampleF(planes!!.second, outW, n, Filter.BICUBIC, box).data
        val cr = resampleF(planes.third, outW, n, Filter.BICUBIC, box).data
        val rows = FloatArray(n * outW) { pixels.data[(y0 * outW + it) * pixels.channels] }
        System.arraycopy(planesToUint8(rows, cb, cr), 0, result.data, y0 * outW * 3, n * outW * 3)
    }
    return result
}

/** The output row strips Python finishes one at a time: (first row, rows). */
internal fun strips(plan: UpscalePlan, height: Int, outH: Int, outW: Int, s: Int): List<Pair<Int, Int>> {
    val out = mutableListOf<Pair<Int, Int>>()
    if (plan.whole) {
        val step = max(FLUSH_ROWS, (1 shl 20) / max(outW, 1))
        for (y0 in 0 until outH step step) out.add(Pair(y0, minOf(step, outH - y0)))
        return out
    }
    val ys = axisStarts(height, plan.tileH, plan.overlap)
    var bandLo = 0
    for (r in ys.indices) {
        val final = if (r == ys.size - 1) outH else max(ys[r + 1] * s, 0)
        for (y0 in bandLo until final step FLUSH_ROWS) out.add(Pair(y0, minOf(FLUSH_ROWS, final - y0)))
        if (final > bandLo) bandLo = final
    }
    return out
}
