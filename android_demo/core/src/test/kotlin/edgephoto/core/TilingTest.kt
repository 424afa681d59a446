package edgephoto.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test

/** Tile plans and blends against golden_vectors/tile_plans.json and blend.json. */
class TilingTest {
    private val plans = Golden.load("tile_plans")
    private val blends = Golden.load("blend")

    @Test
    fun reflectIndexFoldsAsPython() {
        val cases = plans.getAsJsonArray("reflect")
        assertTrue(cases.size() > 0)
        for (c in cases) {
            val o = c.asJsonObject
            val n = o.get("n").asInt
            val index = intList(o.get("index"))
            assertEquals("n=$n", intList(o.get("folded")), index.map { reflectIndex(it, n) })
        }
    }

    /** The facts a plan case describes: the real fsrcnn-x2 manifest, or the case's fixed policy. */
    private fun factsFor(case: com.google.gson.JsonObject): ModelFacts {
        val model = case.get("model").asString
        val scale = case.get("scale").asInt
        val rf = case.get("receptive_field").asInt
        val tile = case.get("policy_tile").asInt
        val overlap = case.get("policy_overlap").asInt
        if (model.startsWith("fsrcnn")) {
            val real = Golden.manifest("fsrcnn-x2").second.facts
            assertEquals("fsrcnn's manifest leaves H/W open", Pair<Int?, Int?>(null, null), real.input.hw)
            return real.copy(scale = scale, tile = tile, overlap = overlap, receptiveField = rf)
        }
        val th = intList(case.get("tile_hw"))
        val fixed = TensorFacts("input", listOf(1, th[0], th[1], 3))
        return ModelFacts(if (model == "fastdepth") "depth" else "upscale", listOf(fixed), listOf(fixed.copy(name = "output")), scale, "tile", tile, overlap, rf)
    }

    @Test
    fun tilePlansOfRealPoliciesMatch() {
        val cases = plans.getAsJsonArray("cases")
        assertTrue(cases.size() >= 5)
        for (e in cases) {
            val case = e.asJsonObject
            val facts = factsFor(case)
            val hw = intList(case.get("photo_hw"))
            val what = "${case.get("model").asString} ${hw}"
            val budget = case.get("budget_bytes").takeIf { !it.isJsonNull }?.asLong
            var length = Pair(hw[0], hw[1])
            val th: Int
            val tw: Int
            val overlap: Int
            val margin: Int
            if (case.has("work_hw")) { // depth: tiles of the input size over the work size
                val ih = facts.input.hw.first!!
                val iw = facts.input.hw.second!!
                length = workSize(hw[0], hw[1], ih, iw, case.get("detail").asDouble)
                assertEquals("$what work size", intList(case.get("work_hw")), length.toList())
                th = ih
                tw = iw
                overlap = defaultOverlap(facts, minOf(ih, iw))
                margin = marginFor(facts.receptiveField, overlap)
                assertEquals("$what whole", false, case.get("whole").asBoolean)
            } else {
                val plan = upscalePlan(facts, hw[0], hw[1], budgetBytes = budget)
                assertEquals("$what whole", case.get("whole").asBoolean, plan.whole)
                th = plan.tileH
                tw = plan.tileW
                overlap = plan.overlap
                margin = plan.margin
            }
            assertEquals("$what tile", intList(case.get("tile_hw")), listOf(th, tw))
            assertEquals("$what overlap", case.get("overlap").asInt, overlap)
            assertEquals("$what margin", case.get("margin").asInt, margin)
            val ys = axisStarts(length.first, th, overlap)
            val xs = axisStarts(length.second, tw, overlap)
            assertEquals("$what ys", intList(case.get("ys")), ys)
            assertEquals("$what xs", intList(case.get("xs")), xs)
            val s = case.get("scale").asInt
            val grid = tileGrid(length.first, length.second, th, tw, overlap)
            val tiles = case.getAsJsonArray("tiles")
            assertEquals("$what tile count", tiles.size(), grid.size)
            for ((k, t) in grid.withIndex()) {
                val g = tiles[k].asJsonObject
                val outY0 = maxOf(t.y * s, 0)
                val outX0 = maxOf(t.x * s, 0)
                val got = listOf(t.row, t.col, t.y, t.x, t.h, t.w, outY0, minOf((t.y + t.h) * s, length.first * s), outX0,
                    minOf((t.x + t.w) * s, length.second * s), outY0 - t.y * s, outX0 - t.x * s)
                val want = listOf("row", "col", "y", "x", "h", "w", "out_y0", "out_y1", "out_x0", "out_x1", "tile_y0", "tile_x0").map { g.get(it).asInt }
                assertEquals("$what tile $k", want, got)
            }
        }
    }

    @Test
    fun blendsOfFixedTileOutputsMatch() {
        val cases = blends.getAsJsonArray("cases")
        assertTrue(cases.size() > 0)
        for (e in cases) {
            val c = e.asJsonObject
            val hw = intList(c.get("photo_hw"))
            val th = intList(c.get("tile_hw"))
            val channels = c.get("channels").asInt
            val overlap = c.get("overlap").asInt
            val scale = c.get("scale").asInt
            val margin = c.get("margin").asInt
            val ramp = c.get("ramp").asString
            val what = "blend $hw tile $th overlap $overlap scale $scale $ramp"
            val ys = axisStarts(hw[0], th[0], overlap)
            val xs = axisStarts(hw[1], th[1], overlap)
            assertEquals(what, intList(c.get("ys")), ys)
            assertEquals(what, intList(c.get("xs")), xs)
            val wy = axisWeights(hw[0], ys, th[0], overlap, scale, margin, ramp)
            val wx = axisWeights(hw[1], xs, th[1], overlap, scale, margin, ramp)
            assertClose("$what weights_y", floats(c.getAsJsonObject("weights_y")), wy.flatMap { it.toList() }.toFloatArray(), 1e-6)
            assertClose("$what weights_x", floats(c.getAsJsonObject("weights_x")), wx.flatMap { it.toList() }.toFloatArray(), 1e-6)
            var k = 0
            val run: RunBatch = { tiles ->
                tiles.map {
                    val out = FloatImage(th[0] * scale, th[1] * scale, channels)
                    for (i in 0 until out.height) for (j in 0 until out.width) for (ch in 0 until channels) {
                        out[i, j, ch] = ((31 * k + 7 * i + 3 * j + 11 * ch) % 23) / 22f
                    }
                    k += 1
                    out
                }
            }
            val blended = tileImage(FloatImage(hw[0], hw[1], 1), run, th[0], th[1], overlap, scale, batch = 2, margin = margin, ramp = ramp)
            assertClose("$what blended", floats(c.getAsJsonObject("blended")), blended.data, 1e-5)
        }
    }

    @Test
    fun tilingAPointwiseModelEqualsRunningItOnce() {
        // the partition of unity: a pointwise model tiled equals the untiled result to float error
        val image = rgb8(Golden.load("preprocess").getAsJsonObject("photo").getAsJsonObject("pixels")).toFloat()
        val run: RunBatch = { tiles -> tiles.map { t -> FloatImage(t.height * 2, t.width * 2, 3) { i -> 0f }.also { o -> for (y in 0 until o.height) for (x in 0 until o.width) for (c in 0 until 3) o[y, x, c] = t[y / 2, x / 2, c] * 0.5f + 3f } } }
        val tiled = tileImage(image, run, 16, 16, 6, scale = 2, margin = 0)
        val once = untiled(image, run, overlap = 6, scale = 2)
        assertClose("tiled vs untiled", once.data, tiled.data, 1e-3)
    }

    @Test(expected = InvalidOptionException::class)
    fun overlapAsLargeAsTheTileIsRefused() {
        axisStarts(100, 16, 16)
    }
}

@Suppress("FunctionName")
private fun FloatImage(h: Int, w: Int, c: Int, init: (Int) -> Float): FloatImage = FloatImage(h, w, c, FloatArray(h * w * c, init))
