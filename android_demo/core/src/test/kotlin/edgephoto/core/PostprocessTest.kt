package edgephoto.core

import com.google.gson.JsonObject
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test

/**
 * Segmentation, depth and upscale through the task functions with the golden vectors' closed-form
 * stand-in models (golden_vectors/README.md, postprocess.json): the code around the model.
 */
class PostprocessTest {
    private val post = Golden.load("postprocess")
    private val photo = rgb8(Golden.load("preprocess").getAsJsonObject("photo").getAsJsonObject("pixels"))

    @Test
    fun segmentationMasksMatch() {
        val cases = post.getAsJsonArray("segmentation")
        assertTrue(cases.size() >= 3)
        for (e in cases) {
            val c = e.asJsonObject
            val out = image(c.getAsJsonObject("output"))
            val (h, w) = intList(c.get("photo_hw"))
            val what = "${c.get("model").asString} ${h}x$w ${c.get("fit").asString}"
            val extra = JsonObject().apply { addProperty("foreground_channel", c.get("foreground_channel").asInt) }
            val input = TensorFacts("input_1", listOf(1, out.height, out.width, 3))
            val facts = ModelFacts("segmentation", listOf(input), listOf(input.copy(name = "out")), extra = extra)
            val fitted = fitPhoto(facts, Rgb8(h, w), c.get("fit").asString)
            assertEquals("$what box", intList(c.get("box")), listOf(fitted.fit.y, fitted.fit.x, fitted.fit.h, fitted.fit.w))
            val low = outputMask(facts, out, fitted)
            assertClose("$what low", floats(c.getAsJsonObject("low")), low.data, 1e-5)
            val prob = upsampleBilinear(low, h, w, clip = true)
            val expected = floats(c.getAsJsonObject("probability"))
            assertClose("$what probability", expected, prob.data, 1e-5)
            val mask = ints(c.getAsJsonObject("mask"))
            for (i in mask.indices) {
                if (kotlin.math.abs(expected[i] - 0.5f) < 1e-5f) continue
                assertEquals("$what mask at $i", mask[i], if (prob.data[i] > 0.5f) 1 else 0)
            }
        }
    }

    /** The golden 'segment' formula: out = mean_c(x), a bright pixel is 'person'. */
    private fun segmentRunner(input: EngineTensor, output: EngineTensor) = FunctionRunner(input, output) { x ->
        val (n, h, w, ch) = listOf(x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        val out = FloatArray(n * h * w)
        for (q in out.indices) {
            var sum = 0f
            for (k in 0 until ch) sum += x.data[q * ch + k]
            out[q] = sum / ch
        }
        Tensor(intArrayOf(n, h, w, 1), "float32", out)
    }

    @Test
    fun segmentZoomRegionsAndFusedMaskMatch() {
        val zoom = post.getAsJsonObject("zoom")
        val facts = factsOf(zoom.getAsJsonObject("facts"))
        val runner = segmentRunner(EngineTensor("input", listOf(1, 16, 16, 3), "float32"), EngineTensor("output", listOf(1, 16, 16, 1), "float32"))
        val cases = zoom.getAsJsonArray("cases")
        assertEquals(3, cases.size())
        for (e in cases) {
            val c = e.asJsonObject
            val (h, w) = intList(c.get("photo_hw"))
            val rgb = Rgb8(h, w)
            for (p in c.getAsJsonArray("people_yxyx_grey")) {
                val (y0, x0, y1, x1, grey) = intList(p)
                for (y in y0 until y1) java.util.Arrays.fill(rgb.data, (y * w + x0) * 3, (y * w + x1) * 3, grey.toByte())
            }
            val expected = c.getAsJsonArray("regions_yxyx").map { r -> intList(r) }
            val regions = zoomRegions(image(c.getAsJsonObject("low")), h, w).map { listOf(it.y0, it.x0, it.y1, it.x1) }
            assertEquals("${h}x$w regions", expected, regions)
            val before = runner.calls
            val prob = segment(runner, facts, rgb)
            assertEquals("${h}x$w engine calls", 1 + expected.size, runner.calls - before)
            assertClose("${h}x$w fused probability", floats(c.getAsJsonObject("probability")), prob.data, 0.01)
        }
    }

    private fun depthRunner() = FunctionRunner(EngineTensor("image", listOf(1, 16, 16, 3), "uint8"), EngineTensor("depth", listOf(1, 16, 16, 1), "float32")) { x ->
        val (n, h, w) = Triple(x.shape[0], x.shape[1], x.shape[2])
        val out = FloatArray(n * h * w)
        for (b in 0 until n) for (i in 0 until h) for (j in 0 until w) {
            val p = ((b * h + i) * w + j) * 3
            val mean = (x.data[p] + x.data[p + 1] + x.data[p + 2]) / 3f
            out[(b * h + i) * w + j] = 1f + mean + 0.05f * i - 0.03f * j
        }
        Tensor(intArrayOf(n, h, w, 1), "float32", out)
    }

    @Test
    fun depthGlobalAndTiledMatch() {
        val cases = post.getAsJsonArray("depth")
        assertTrue(cases.size() >= 2)
        for (e in cases) {
            val c = e.asJsonObject
            val facts = factsOf(c.getAsJsonObject("facts"))
            val detail = c.get("detail").asDouble
            val what = "depth detail $detail ${c.get("fit").asString}"
            val result = estimateDepth(depthRunner(), facts, photo.sub(0, 24, 0, 20), detail, fit = c.get("fit").asString)
            val global = floats(c.getAsJsonObject("global_depth"))
            val range = global.max() - global.min()
            assertClose("$what global", global, result.globalDepth.data, 1e-3 * range + 1e-4)
            assertClose("$what depth", floats(c.getAsJsonObject("depth")), result.depth.data, 1e-3 * range + 1e-4)
            val tiles = c.getAsJsonArray("tiles")
            assertEquals("$what tiles", tiles.size(), result.tiles.size)
            for ((k, t) in tiles.withIndex()) {
                val g = t.asJsonObject
                val got = result.tiles[k]
                assertEquals("$what tile $k", listOf(g.get("row").asInt, g.get("col").asInt), listOf(got.row, got.col))
                assertEquals("$what tile $k pearson", g.get("pearson").asDouble, got.pearson, 1e-4)
                assertEquals("$what tile $k rmse_raw", g.get("rmse_raw").asDouble, got.rmseRaw, 1e-3)
                assertEquals("$what tile $k rmse_aligned", g.get("rmse_aligned").asDouble, got.rmseAligned, 1e-3)
            }
            assertClose("$what normalized", floats(c.getAsJsonObject("normalized")), normalizeDepth(result.depth).data, 2e-3)
        }
    }

    private fun upscaleRunner(input: EngineTensor, output: EngineTensor, s: Int) = FunctionRunner(input, output) { x ->
        val (n, h, w, ch) = listOf(x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        val oh = h * s
        val ow = w * s
        val out = FloatArray(n * oh * ow * ch)
        for (b in 0 until n) for (i in 0 until oh) for (j in 0 until ow) for (k in 0 until ch) {
            val v = x.data[((b * h + i / s) * w + j / s) * ch + k]
            out[((b * oh + i) * ow + j) * ch + k] = 0.9f * v + 0.02f * ((i.toFloat() + 2f * j.toFloat()) % 5f)
        }
        Tensor(intArrayOf(n, oh, ow, ch), "float32", out)
    }

    @Test
    fun upscaleLumaAndTiledRgbMatch() {
        val cases = post.getAsJsonArray("upscale")
        assertEquals(2, cases.size())
        val source = photo.sub(0, 20, 0, 27)
        for (e in cases) {
            val c = e.asJsonObject
            val model = c.get("model").asString
            val (facts, runner) = if (c.get("facts").isJsonNull) {
                val real = Golden.manifest(model).second.facts // the real fsrcnn-x2 manifest
                Pair(real, upscaleRunner(EngineTensor("IteratorGetNext", listOf(1, null, null, 1), "float32"), EngineTensor("NHWC_output", listOf(1, null, null, 1), "float32"), real.scale))
            } else {
                val f = factsOf(c.getAsJsonObject("facts"))
                Pair(f, upscaleRunner(EngineTensor("input", listOf(1, 16, 16, 3), "float32"), EngineTensor("output", listOf(1, 32, 32, 3), "float32"), f.scale))
            }
            val out = upscale(runner, facts, source)
            val expected = floats(c.getAsJsonObject("upscaled"))
            assertEquals("$model shape", shapeOf(c.getAsJsonObject("upscaled")).toList(), listOf(out.height, out.width, 3))
            val (worst, mean) = diffs(expected, out.floats())
            println("  upscale $model: max |d| $worst, mean |d| ${"%.4f".format(mean)} (levels)")
            assertTrue("$model upscaled: max |d| $worst > 2", worst <= 2.0)
            assertTrue("$model upscaled: mean |d| $mean > 0.2", mean <= 0.2)
            if (model == "fsrcnn-x2") assertEquals("fsrcnn runs the whole photo in one call", 1, runner.calls)
            else assertTrue("rgb-tiled runs tiles", runner.calls > 1)
        }
    }

    @Test
    fun lumaUpscalePastItsBudgetTilesEvenlyAndMatches() {
        val c = post.getAsJsonObject("upscale_luma_tiled")
        val facts = factsOf(c.getAsJsonObject("facts"))
        val budget = c.get("budget_bytes").asLong
        val plan = upscalePlan(facts, 24, 32, budgetBytes = budget)
        assertEquals("even tiles past the budget", listOf(18, 16, 6, 1, 0), listOf(plan.tileH, plan.tileW, plan.overlap, plan.margin, if (plan.whole) 1 else 0))
        val runner = upscaleRunner(EngineTensor("y", listOf(1, null, null, 1), "float32"), EngineTensor("y2", listOf(1, null, null, 1), "float32"), facts.scale)
        val out = upscale(runner, facts, photo.sub(0, 24, 0, 32), budgetBytes = budget)
        val (worst, mean) = diffs(floats(c.getAsJsonObject("upscaled")), out.floats())
        println("  upscale luma tiled: max |d| $worst, mean |d| ${"%.4f".format(mean)} (levels)")
        assertTrue("luma tiled upscaled: max |d| $worst > 2, mean $mean", worst <= 2.0 && mean <= 0.2)
        assertTrue("tiled: several engine calls", runner.calls > 1)
    }

    @Test
    fun ycbcrPlanesAndBackToRgbMatch() {
        val c = post.getAsJsonObject("ycbcr")
        val small = rgb8(Golden.load("preprocess").getAsJsonObject("small").getAsJsonObject("pixels"))
        val (y, cb, cr) = ycbcrPlanes(small)
        assertClose("y", floats(c.getAsJsonObject("y")), y.data, 1e-4)
        assertClose("cb", floats(c.getAsJsonObject("cb")), cb.data, 1e-4)
        assertClose("cr", floats(c.getAsJsonObject("cr")), cr.data, 1e-4)
        val back = planesToUint8(floats(c.getAsJsonObject("y")), floats(c.getAsJsonObject("cb")), floats(c.getAsJsonObject("cr")))
        assertTrue("planes_to_uint8 equal", ints(c.getAsJsonObject("back_to_rgb")).contentEquals(IntArray(back.size) { back[it].toInt() and 0xFF }))
    }
}
