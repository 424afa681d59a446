package edgephoto.core

import java.io.File
import javax.imageio.ImageIO
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test

/** fit_to_input (Pillow's resize), model_input and the real sample photo (golden preprocess.json). */
class PreprocessTest {
    private val pre = Golden.load("preprocess")
    private val photo = rgb8(pre.getAsJsonObject("photo").getAsJsonObject("pixels"))
    private val small = rgb8(pre.getAsJsonObject("small").getAsJsonObject("pixels"))

    @Test
    fun smallIsTheDocumentedCropOfPhoto() {
        val (y, x, h, w) = intList(pre.getAsJsonObject("small").get("crop_yxhw_in_photo_crop"))
        assertTrue(small.data.contentEquals(photo.sub(y, y + h, x, x + w).data))
    }

    @Test
    fun fitsMatchPillowWithinTwoLevels() {
        val fits = pre.getAsJsonArray("fits")
        assertTrue(fits.size() >= 5)
        for (e in fits) {
            val f = e.asJsonObject
            val source = if (f.get("source").asString == "crop") photo else small
            val (h, w) = intList(f.get("size_hw"))
            val mode = f.get("mode").asString
            val sampled = f.get("sampled").asBoolean
            val what = "fit ${source.height}x${source.width} -> ${h}x$w $mode sampled=$sampled"
            val (fitted, fit) = fitToInput(source, h, w, mode, sampled)
            assertEquals("$what box", intList(f.get("box")), listOf(fit.y, fit.x, fit.h, fit.w))
            val (worst, mean) = diffs(floats(f.getAsJsonObject("fitted")), fitted.data)
            println("  $what: max |d| $worst, mean |d| ${"%.4f".format(mean)} (levels)")
            assertTrue("$what: max |d| $worst > 2 levels", worst <= 2.0)
            assertTrue("$what: mean |d| $mean > 0.5", mean <= 0.5)
        }
    }

    @Test
    fun modelInputsOfEveryZooInputMatch() {
        val cases = pre.getAsJsonArray("model_inputs")
        assertTrue(cases.size() >= 5)
        for (e in cases) {
            val c = e.asJsonObject
            val n = c.getAsJsonObject("normalization")
            val tensor = TensorFacts(
                c.get("name").asString, listOf(1, null, null, null), c.get("dtype").asString, c.get("layout").asString,
                Normalization(n.getAsJsonArray("mean").map { it.asFloat }, n.getAsJsonArray("std").map { it.asFloat }, n.get("color").asString),
            )
            val hwc = modelInput(small.toFloat(), tensor)
            val values = if (tensor.layout == "NCHW") chw(hwc) else hwc.data
            val expected = c.getAsJsonObject("values")
            val shape = shapeOf(expected).toList()
            val got = if (tensor.layout == "NCHW") listOf(1, hwc.channels, hwc.height, hwc.width) else listOf(1, hwc.height, hwc.width, hwc.channels)
            assertEquals("${c.get("model").asString} shape", shape, got)
            assertClose("${c.get("model").asString} values", floats(expected), values, 1e-4)
        }
    }

    private fun chw(image: FloatImage): FloatArray {
        val out = FloatArray(image.data.size)
        for (k in 0 until image.channels) for (y in 0 until image.height) for (x in 0 until image.width) {
            out[(k * image.height + y) * image.width + x] = image[y, x, k]
        }
        return out
    }

    /** The JPEG decoded by the JVM's decoder, as an Android app decodes it with its own. */
    private fun decodeSample(): Rgb8 {
        val file = File(Golden.repo, "src/edgephoto/data/${pre.getAsJsonObject("sample_photo").get("sample").asString}.jpg")
        val img = ImageIO.read(file) ?: error("ImageIO could not decode $file")
        return Rgb8.fromArgb(img.height, img.width, img.getRGB(0, 0, img.width, img.height, null, 0, img.width))
    }

    @Test
    fun samplePhotoThroughTheRealDefaultModelsInputs() {
        val sample = pre.getAsJsonObject("sample_photo")
        val rgb = decodeSample()
        assertEquals(intList(sample.get("photo_hw")), listOf(rgb.height, rgb.width))
        val means = (0 until 3).map { c -> (0 until rgb.height * rgb.width).sumOf { rgb.data[3 * it + c].toInt() and 0xFF } / (rgb.height * rgb.width).toDouble() }
        for ((c, want) in sample.getAsJsonArray("channel_mean").map { it.asDouble }.withIndex()) {
            assertTrue("channel $c mean ${means[c]} vs $want", kotlin.math.abs(means[c] - want) <= 1.5)
        }
        // selfie: segmentation.fit_photo (stretch, sampled); fastdepth: fit_to_input (stretch)
        for (model in listOf("selfie", "fastdepth")) {
            val (_, manifest) = Golden.manifest(model)
            val facts = manifest.facts
            val g = sample.getAsJsonObject(model)
            val (ih, iw) = facts.input.hw
            val fitted = if (model == "selfie") fitPhoto(facts, rgb).pixels else fitToInput(rgb, ih!!, iw!!, "stretch").first
            val values = modelInput(fitted, facts.input)
            assertEquals("$model shape", intList(g.get("shape")), listOf(1, values.height, values.width, values.channels))
            val ys = intList(g.get("ys"))
            val xs = intList(g.get("xs"))
            val got = ys.flatMap { y -> xs.flatMap { x -> (0 until values.channels).map { values[y, x, it] } } }.toFloatArray()
            val expected = floats(g.getAsJsonObject("samples"))
            val unit = if (isIntegerDtype(facts.input.dtype)) 1.0 else 1.0 / 255.0 // one level in the tensor's units
            val mean = diffs(expected, got).second / unit
            assertTrue("$model grid samples: mean |d| $mean levels > 4", mean <= 4.0)
            for ((c, want) in g.getAsJsonArray("channel_mean").map { it.asDouble }.withIndex()) {
                val m = (0 until values.height * values.width).sumOf { values.data[it * values.channels + c].toDouble() } / (values.height * values.width)
                assertTrue("$model channel $c mean $m vs $want", kotlin.math.abs(m - want) / unit <= 1.5)
            }
        }
    }

    @Test(expected = InvalidOptionException::class)
    fun unknownFitModeIsRefused() {
        fitToInput(small, 8, 8, "crop")
    }
}
