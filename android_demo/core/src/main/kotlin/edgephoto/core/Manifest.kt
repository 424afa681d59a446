package edgephoto.core

import com.google.gson.JsonElement
import com.google.gson.JsonObject
import com.google.gson.JsonParser
import java.io.File
import java.security.MessageDigest

/**
 * The artifact manifest `edgephoto convert` writes (src/edgephoto/manifest.py) and the facts a task
 * reads from it (ModelFacts in src/edgephoto/runtime/tasks/common.py), parsed the same way: open
 * dims (null or negative) become null, normalisation and quantization are optional.
 */
const val MANIFEST_NAME = "manifest.json"
const val MANIFEST_SCHEMA = 1

/** model_input = (pixel - mean) / std per channel, pixel 0..255 in colour space RGB, BGR or Y. */
data class Normalization(val mean: List<Float> = listOf(0f), val std: List<Float> = listOf(1f), val color: String = "RGB") {
    init {
        if (color !in COLORS) invalid("normalization color must be one of $COLORS, got '$color'")
    }

    fun meanAt(c: Int): Float = if (mean.size == 1) mean[0] else mean[c]

    fun stdAt(c: Int): Float = if (std.size == 1) std[0] else std[c]

    /** float32 (p - mean) / std, then for an integer dtype clip(rint(v), 0, 255), as Normalization.apply. */
    fun apply(pixels: FloatImage, dtype: String = "float32"): FloatImage {
        val out = FloatImage(pixels.height, pixels.width, pixels.channels)
        val integer = isIntegerDtype(dtype)
        for (i in pixels.data.indices) {
            val c = i % pixels.channels
            val v = (pixels.data[i] - meanAt(c)) / stdAt(c)
            out.data[i] = if (integer) toUint8(v).toFloat() else v
        }
        return out
    }

    /** Model-space values back to 0..255 floats: v * std + mean. */
    fun invert(values: FloatImage): FloatImage {
        val out = FloatImage(values.height, values.width, values.channels)
        for (i in values.data.indices) {
            val c = i % values.channels
            out.data[i] = values.data[i] * stdAt(c) + meanAt(c)
        }
        return out
    }

    companion object {
        val COLORS = listOf("RGB", "BGR", "Y")
    }
}

data class Quantization(val scale: Float, val zeroPoint: Int)

fun isIntegerDtype(dtype: String): Boolean = dtype.startsWith("int") || dtype.startsWith("uint")

/** The integer range of an engine dtype, for saturating quantization. */
fun dtypeRange(dtype: String): IntRange = when (dtype) {
    "uint8" -> 0..255
    "int8" -> -128..127
    "int16" -> -32768..32767
    "uint16" -> 0..65535
    "int32" -> Int.MIN_VALUE..Int.MAX_VALUE
    else -> invalid("no integer range for dtype '$dtype'")
}

data class TensorFacts(
    val name: String,
    val shape: List<Int?>,
    val dtype: String = "float32",
    val layout: String = "NHWC",
    val normalization: Normalization? = null,
    val quantization: Quantization? = null,
    val sourceDtype: String? = null,
    val meaning: String = "",
) {
    /** (H, W) of a 4-D tensor, null where open. */
    val hw: Pair<Int?, Int?>
        get() = when {
            shape.size != 4 -> Pair(null, null)
            layout == "NHWC" -> Pair(shape[1], shape[2])
            else -> Pair(shape[2], shape[3])
        }

    val channels: Int?
        get() = if (shape.size != 4) null else if (layout == "NHWC") shape[3] else shape[1]

    val batch: Int? get() = shape.firstOrNull()

    /** Integer codes to real values with (scale, zero_point); values as they are without them. */
    fun dequantize(codes: Float, holdsCodes: Boolean): Float {
        val q = quantization ?: return codes
        return if (holdsCodes || sourceDtype != null) (codes - q.zeroPoint) * q.scale else codes
    }

    /** Real values to an integer engine input: round(real / scale) + zero_point, saturated. */
    fun quantize(real: Float, dtype: String): Int {
        val q = quantization ?: invalid(
            "input '$name': the engine takes $dtype but the manifest gives no quantization (scale, zero_point)",
        )
        val range = dtypeRange(dtype)
        val code = Math.rint((real / q.scale).toDouble()) + q.zeroPoint
        return code.coerceIn(range.first.toDouble(), range.last.toDouble()).toInt()
    }
}

/** The manifest facts a task reads, as ModelFacts.load reads them. */
data class ModelFacts(
    val task: String,
    val inputs: List<TensorFacts>,
    val outputs: List<TensorFacts>,
    val scale: Int = 1,
    val tileMode: String = "whole",
    val tile: Int = 0,
    val overlap: Int = 0,
    val receptiveField: Int = 0,
    val extra: JsonObject = JsonObject(),
) {
    val input: TensorFacts get() = inputs[0]

    fun output(name: String? = null): TensorFacts {
        if (name == null) return outputs[0]
        return outputs.firstOrNull { name == it.name || name == it.name.substringBefore(":") }
            ?: invalid("model has no output '$name' (${outputs.map { it.name }})")
    }

    fun extraString(key: String, default: String): String =
        extra.get(key)?.takeIf { it.isJsonPrimitive }?.asString ?: default

    fun extraInt(key: String, default: Int): Int = extra.get(key)?.takeIf { it.isJsonPrimitive }?.asInt ?: default

    fun extraDouble(key: String, default: Double): Double =
        extra.get(key)?.takeIf { it.isJsonPrimitive }?.asDouble ?: default

    companion object {
        fun fromJson(data: JsonObject): ModelFacts {
            val tile = data.obj("tile") ?: JsonObject()
            return ModelFacts(
                task = data.str("task") ?: "",
                inputs = data.getAsJsonArray("inputs").map { tensor(it.asJsonObject) },
                outputs = data.getAsJsonArray("outputs").map { tensor(it.asJsonObject) },
                scale = data.int("scale") ?: 1,
                tileMode = tile.str("mode") ?: "whole",
                tile = tile.int("tile") ?: 0,
                overlap = tile.int("overlap") ?: 0,
                receptiveField = tile.int("receptive_field") ?: 0,
                extra = data.obj("extra") ?: JsonObject(),
            )
        }

        private fun tensor(entry: JsonObject): TensorFacts {
            val norm = entry.obj("normalization")
            val quant = entry.obj("quantization")
            return TensorFacts(
                name = entry.str("name") ?: throw InvalidOptionException("tensor without a name"),
                shape = entry.getAsJsonArray("shape").map { d ->
                    if (d.isJsonNull || !d.isJsonPrimitive || !d.asJsonPrimitive.isNumber) null
                    else d.asInt.takeIf { it >= 0 }
                },
                dtype = entry.str("dtype") ?: "float32",
                layout = entry.str("layout") ?: "NHWC",
                normalization = norm?.let { n ->
                    Normalization(
                        n.getAsJsonArray("mean").map { it.asFloat },
                        n.getAsJsonArray("std").map { it.asFloat },
                        n.str("color") ?: "RGB",
                    )
                },
                quantization = quant?.let { Quantization(it.get("scale").asFloat, it.get("zero_point").asInt) },
                sourceDtype = entry.str("source_dtype")?.takeIf { it.isNotEmpty() },
                meaning = entry.str("meaning") ?: "",
            )
        }
    }
}

data class ManifestFile(val path: String, val sha256: String, val bytes: Long)

/** A whole manifest: what the artifact is, its files and the facts to feed it. */
data class Manifest(
    val model: String,
    val task: String,
    val target: String,
    val precision: String,
    val files: List<ManifestFile>,
    val facts: ModelFacts,
    val json: JsonObject,
) {
    val sizeBytes: Long get() = files.sumOf { it.bytes }

    /** The first file with this suffix (".tflite", ".mlpackage/..."), the engine's model file. */
    fun modelFile(suffix: String): String? =
        files.map { it.path }.firstOrNull { it.endsWith(suffix) }

    /** The parity the converter measured, condensed as bench's quality(): metric, worst value, max |d|. */
    fun quality(): JsonObject {
        val out = JsonObject()
        val parity = json.obj("parity") ?: return out
        val outputs = parity.obj("outputs") ?: return out
        val values = outputs.entrySet().mapNotNull { it.value.takeIf { v -> v.isJsonObject }?.asJsonObject }
        if (values.isEmpty()) return out
        out.addProperty("parity_metric", parity.str("metric"))
        val metrics = values.mapNotNull { it.get("metric")?.takeIf { m -> m.isJsonPrimitive }?.asDouble }
        if (metrics.isEmpty()) out.add("parity_value", com.google.gson.JsonNull.INSTANCE)
        else out.addProperty("parity_value", metrics.min())
        out.addProperty("parity_max_abs", values.maxOf { it.get("max_abs")?.takeIf { m -> m.isJsonPrimitive }?.asDouble ?: 0.0 })
        return out
    }

    companion object {
        fun parse(text: String, source: String = MANIFEST_NAME): Manifest {
            val root = try {
                JsonParser.parseString(text)
            } catch (exc: com.google.gson.JsonParseException) {
                throw InputFileException(source, "corrupt manifest (${exc.message})")
            }
            if (!root.isJsonObject) throw InputFileException(source, "a manifest is a JSON object")
            val data = root.asJsonObject
            val schema = data.int("schema")
            if (schema != null && schema > MANIFEST_SCHEMA) {
                throw InputFileException(source, "manifest schema $schema is newer than this app's $MANIFEST_SCHEMA")
            }
            if (!data.has("inputs") || !data.has("outputs")) throw InputFileException(source, "manifest without inputs/outputs")
            return Manifest(
                model = data.str("model") ?: "",
                task = data.str("task") ?: "",
                target = data.str("target") ?: "",
                precision = data.str("precision") ?: "",
                files = (data.getAsJsonArray("files") ?: com.google.gson.JsonArray()).map {
                    val f = it.asJsonObject
                    ManifestFile(f.str("path")!!, f.str("sha256")!!, f.get("bytes")?.asLong ?: 0L)
                },
                facts = ModelFacts.fromJson(data),
                json = data,
            )
        }

        /** Read `dir/manifest.json`; InputFileException when missing or corrupt. */
        fun read(dir: File): Manifest {
            val file = File(dir, MANIFEST_NAME)
            if (!file.isFile) throw InputFileException(file.path, "no manifest.json: not an edgephoto artifact")
            return parse(file.readText(), file.path)
        }
    }
}

/** Re-hash every listed file, as manifest.verify: never run a tampered or truncated artifact. */
fun verify(dir: File, manifest: Manifest) {
    for (entry in manifest.files) {
        val file = File(dir, entry.path)
        if (!file.isFile) throw InputFileException(file.path, "listed in the manifest but missing")
        val actual = sha256(file.inputStream())
        if (actual != entry.sha256) throw HashMismatchException(file.path, entry.sha256, actual)
    }
}

/** Hex sha256 of a stream (closes it): the app hashes assets and files through this too. */
fun sha256(stream: java.io.InputStream): String {
    val digest = MessageDigest.getInstance("SHA-256")
    stream.use {
        val buffer = ByteArray(1 shl 16)
        while (true) {
            val n = it.read(buffer)
            if (n < 0) break
            digest.update(buffer, 0, n)
        }
    }
    return digest.digest().joinToString("") { "%02x".format(it) }
}

internal fun JsonObject.str(key: String): String? = get(key)?.takeIf { it.isJsonPrimitive }?.asString

internal fun JsonObject.int(key: String): Int? = get(key)?.takeIf { it.isJsonPrimitive }?.asInt

internal fun JsonObject.obj(key: String): JsonObject? = get(key)?.takeIf(JsonElement::isJsonObject)?.asJsonObject
