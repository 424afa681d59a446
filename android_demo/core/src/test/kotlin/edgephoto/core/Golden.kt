package edgephoto.core

import com.google.gson.JsonElement
import com.google.gson.JsonObject
import com.google.gson.JsonParser
import java.io.File
import kotlin.math.abs
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue

/**
 * The golden vectors the Python runtime writes (golden_vectors/README.md) and the real artifacts
 * `edgephoto convert` made, located by system properties the check script sets.
 */
object Golden {
    val repo: File = File(System.getProperty("edgephoto.repo") ?: error("set -Dedgephoto.repo=<repository root>"))
    val artifacts: File = File(System.getProperty("edgephoto.artifacts") ?: error("set -Dedgephoto.artifacts=<edgephoto convert --out dir>"))
    val output: File? = System.getProperty("edgephoto.out")?.let(::File)

    private val cache = mutableMapOf<String, JsonObject>()

    fun load(name: String): JsonObject = cache.getOrPut(name) {
        JsonParser.parseString(File(repo, "golden_vectors/$name.json").readText()).asJsonObject
    }

    fun manifest(model: String, target: String = "tflite", precision: String = "fp32"): Pair<File, Manifest> {
        val dir = File(artifacts, "$model/$target-$precision")
        return Pair(dir, Manifest.read(dir))
    }
}

fun JsonElement.arr(): JsonObject = asJsonObject

fun shapeOf(a: JsonObject): IntArray = a.getAsJsonArray("shape").map { it.asInt }.toIntArray()

fun floats(a: JsonObject): FloatArray = a.getAsJsonArray("data").let { d -> FloatArray(d.size()) { d[it].asFloat } }

fun ints(a: JsonObject): IntArray = a.getAsJsonArray("data").let { d -> IntArray(d.size()) { d[it].asInt } }

fun intList(e: JsonElement): List<Int> = e.asJsonArray.map { it.asInt }

/** A golden (H, W, C) or (H, W) array as an image. */
fun image(a: JsonObject): FloatImage {
    val s = shapeOf(a)
    return FloatImage(s[0], s[1], if (s.size > 2) s[2] else 1, floats(a))
}

fun rgb8(a: JsonObject): Rgb8 {
    val s = shapeOf(a)
    require(s.size == 3 && s[2] == 3) { "not an RGB image: ${s.toList()}" }
    val v = ints(a)
    return Rgb8(s[0], s[1], ByteArray(v.size) { v[it].toByte() })
}

/** Rows [y0, y1) and cols [x0, x1) of a photo. */
fun Rgb8.sub(y0: Int, y1: Int, x0: Int, x1: Int): Rgb8 {
    val out = Rgb8(y1 - y0, x1 - x0)
    for (y in y0 until y1) System.arraycopy(data, (y * width + x0) * 3, out.data, (y - y0) * (x1 - x0) * 3, (x1 - x0) * 3)
    return out
}

fun assertClose(what: String, expected: FloatArray, actual: FloatArray, tol: Double) {
    assertEquals("$what: size", expected.size, actual.size)
    var worst = 0.0
    var at = -1
    for (i in expected.indices) {
        val d = abs(expected[i].toDouble() - actual[i].toDouble())
        if (d > worst || d.isNaN()) { worst = d; at = i }
    }
    assertTrue("$what: max |d| $worst at $at (expected ${expected.getOrNull(at)}, got ${actual.getOrNull(at)}) > $tol", worst <= tol)
}

/** Max and mean absolute difference. */
fun diffs(expected: FloatArray, actual: FloatArray): Pair<Double, Double> {
    require(expected.size == actual.size) { "sizes ${expected.size} != ${actual.size}" }
    var worst = 0.0
    var sum = 0.0
    for (i in expected.indices) {
        val d = abs(expected[i].toDouble() - actual[i].toDouble())
        worst = maxOf(worst, d)
        sum += d
    }
    return Pair(worst, sum / expected.size)
}

fun Rgb8.floats(): FloatArray = FloatArray(data.size) { (data[it].toInt() and 0xFF).toFloat() }

fun factsOf(o: JsonObject): ModelFacts = ModelFacts.fromJson(o)
