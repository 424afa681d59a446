package edgephoto.core

import kotlin.math.max
import kotlin.math.min
import kotlin.math.sqrt

/**
 * The tasks above a runner, ported from runtime/tasks/{segmentation,depth,upscale}.py: the same
 * fit, tile plan, blend and finish, so the app's outputs are the Python runtime's for the same
 * engine outputs. Each takes an 8-bit photo and returns float maps or an 8-bit photo.
 */
const val DEFAULT_BUDGET = 256L shl 20 // bytes of model I/O + activations per batch (open-H/W models)

/** Px neighbouring tiles share by default: twice the per-side policy overlap, at most half the tile. */
fun defaultOverlap(facts: ModelFacts, tile: Int? = null): Int {
    val t = tile ?: facts.tile
    return if (t != 0) min(2 * facts.overlap, t / 2) else 2 * facts.overlap
}

// ---- segmentation and matting ----

data class Fitted(val pixels: FloatImage, val fit: Fit, val inputH: Int, val inputW: Int)

/** segmentation.fit_photo: stretch (or the manifest's fit), point-sampled shrink. */
fun fitPhoto(facts: ModelFacts, rgb: Rgb8, fit: String? = null): Fitted {
    val (h0, w0) = facts.input.hw
    val h = h0 ?: facts.tile
    val w = w0 ?: facts.tile
    val (pixels, placement) = fitToInput(rgb, h, w, fit ?: facts.extraString("fit", "stretch"), sampled = true)
    return Fitted(pixels, placement, h, w)
}

/** One model output to the foreground probability cut to the content box. */
fun outputMask(facts: ModelFacts, out: FloatImage, fitted: Fitted): FloatImage =
    unfit(probability(out, facts.extraInt("foreground_channel", 1)), fitted.fit, fitted.inputH, fitted.inputW)

/** segmentation.low_res_mask: the model's mask at model resolution, cut to the content box. */
fun lowResMask(runner: ModelRunner, facts: ModelFacts, rgb: Rgb8, fit: String? = null): FloatImage {
    val fitted = fitPhoto(facts, rgb, fit)
    return outputMask(facts, runModel(runner, facts, listOf(fitted.pixels))[0][0], fitted)
}

/** segmentation.ZoomPolicy's defaults (fuse "max"): when the second look at a small person runs. */
data class ZoomPolicy(
    val threshold: Float = 0.5f, val maxArea: Double = 0.5, val margin: Double = 0.1, val maxAspect: Double = 2.0,
    val maxCrop: Double = 0.9, val gap: Double = 0.03, val minShare: Double = 0.05, val maxCrops: Int = 4,
)

/** A crop in photo px, rows [y0, y1) and columns [x0, x1). */
data class Region(val y0: Int, val x0: Int, val y1: Int, val x1: Int)

/** person_boxes: a box (y0, x0, y1, x1 in 0..1 of the map) per person, parted at empty columns, largest first. */
fun personBoxes(low: FloatImage, policy: ZoomPolicy = ZoomPolicy()): List<DoubleArray> {
    val (h, w) = Pair(low.height, low.width)
    val cols = (0 until w).filter { j -> (0 until h).any { i -> low[i, j] > policy.threshold } }
    if (cols.isEmpty()) return emptyList()
    val apart = max(1, (policy.gap * w).toInt())
    val ranges = mutableListOf(intArrayOf(cols[0], cols[0] + 1))
    for (k in 1 until cols.size) {
        if (cols[k] - cols[k - 1] > apart) ranges.add(intArrayOf(cols[k], cols[k] + 1)) else ranges.last()[1] = cols[k] + 1
    }
    class Part(val count: Int, val box: DoubleArray)
    val parts = ranges.map { (a, b) ->
        var count = 0
        var top = h
        var bottom = -1
        for (i in 0 until h) for (j in a until b) {
            if (low[i, j] > policy.threshold) { count++; top = min(top, i); bottom = max(bottom, i) }
        }
        Part(count, doubleArrayOf(top.toDouble() / h, a.toDouble() / w, (bottom + 1).toDouble() / h, b.toDouble() / w))
    }
    val total = parts.sumOf { it.count }
    val kept = if (parts.size > 1) parts.filter { it.count >= policy.minShare * total } else parts
    return kept.sortedByDescending { it.count }.map { it.box } // stable: ties keep column order
}

/** zoom_crop: photo px around a box with context, at most maxAspect long, shifted then cut at the edges. */
fun zoomCrop(box: DoubleArray, height: Int, width: Int, margin: Double = 0.1, maxAspect: Double = 2.0): Region {
    val (y0, x0, y1, x1) = listOf(box[0] * height, box[1] * width, box[2] * height, box[3] * width)
    val grow = 2 * margin * max(y1 - y0, x1 - x0)
    val grownTall = y1 - y0 + grow
    val grownWide = x1 - x0 + grow
    val tall = max(grownTall, grownWide / maxAspect)
    val wide = max(grownWide, grownTall / maxAspect)
    fun axis(centre: Double, length: Double, limit: Int): Pair<Int, Int> {
        val size = max(1, min(limit, Math.rint(length).toInt()))
        val start = min(max(0.0, Math.rint(centre - size / 2.0)), (limit - size).toDouble()).toInt()
        return Pair(start, start + size)
    }
    val (top, bottom) = axis((y0 + y1) / 2, tall, height)
    val (left, right) = axis((x0 + x1) / 2, wide, width)
    return Region(top, left, bottom, right)
}

/** zoom_regions: the crops second passes should see, largest person first; empty when none would pay. */
fun zoomRegions(low: FloatImage, height: Int, width: Int, policy: ZoomPolicy = ZoomPolicy()): List<Region> =
    personBoxes(low, policy).filter { (it[2] - it[0]) * (it[3] - it[1]) < policy.maxArea }
        .map { zoomCrop(it, height, width, policy.margin, policy.maxAspect) }
        .filter { (it.y1 - it.y0).toLong() * (it.x1 - it.x0) < policy.maxCrop * height * width }
        .take(policy.maxCrops)

/** Rows [y0, y1) and columns [x0, x1) of a photo, copied. */
fun Rgb8.region(r: Region): Rgb8 {
    val out = Rgb8(r.y1 - r.y0, r.x1 - r.x0)
    val rowLen = (r.x1 - r.x0) * 3
    for (y in r.y0 until r.y1) System.arraycopy(data, (y * width + r.x0) * 3, out.data, (y - r.y0) * rowLen, rowLen)
    return out
}

/**
 * Person probability (H, W) 0..1: fit, run once, probability, bilinear to the photo; with zoom (the
 * default, as segment(zoom=True)) the model runs again on a crop around each small person and the
 * crop's mask is max-fused in there.
 */
fun segment(runner: ModelRunner, facts: ModelFacts, rgb: Rgb8, fit: String? = null, zoom: Boolean = true): FloatImage {
    val low = lowResMask(runner, facts, rgb, fit)
    val full = upsampleBilinear(low, rgb.height, rgb.width, clip = true)
    if (!zoom) return full
    for (r in zoomRegions(low, rgb.height, rgb.width)) {
        val part = rgb.region(r)
        val near = upsampleBilinear(lowResMask(runner, facts, part, fit), part.height, part.width, clip = true)
        for (i in 0 until part.height) for (j in 0 until part.width) {
            val o = (r.y0 + i) * rgb.width + r.x0 + j
            full.data[o] = max(full.data[o], near.data[i * part.width + j])
        }
    }
    return full
}

// ---- depth ----

data class TileStats(val row: Int, val col: Int, val pearson: Double, val rmseRaw: Double, val rmseAligned: Double)

class DepthResult(val depth: FloatImage, val globalDepth: FloatImage, val tiles: List<TileStats>)

/** Photo resized so its long side is `detail` x the model's long side (never enlarged). */
fun workSize(photoH: Int, photoW: Int, inputH: Int, inputW: Int, detail: Double): Pair<Int, Int> {
    val factor = min(1.0, detail * max(inputH, inputW) / max(photoH, photoW))
    return Pair(max(1, Math.rint(photoH * factor).toInt()), max(1, Math.rint(photoW * factor).toInt()))
}

/** Least-squares scale and shift of `pred` onto `target` (float64), as metrics.align_scale_shift. */
fun alignScaleShift(pred: FloatArray, target: FloatArray): FloatArray {
    var sx = 0.0
    var sy = 0.0
    var sxx = 0.0
    var sxy = 0.0
    val n = pred.size.toDouble()
    for (i in pred.indices) {
        val x = pred[i].toDouble()
        val y = target[i].toDouble()
        sx += x; sy += y; sxx += x * x; sxy += x * y
    }
    val det = n * sxx - sx * sx
    // a constant prediction: lstsq's minimum-norm answer puts it all in the shift
    val (scale, shift) = if (det == 0.0) {
        val x = if (n > 0) sx / n else 0.0
        val m = if (n > 0) sy / n else 0.0
        Pair(x * m / (x * x + 1), m / (x * x + 1))
    } else Pair((n * sxy - sx * sy) / det, (sxx * sy - sx * sxy) / det)
    return FloatArray(pred.size) { (pred[it] * scale + shift).toFloat() }
}

internal fun pearson(a: FloatArray, b: FloatArray): Double {
    val ma = a.sumOf { it.toDouble() } / a.size
    val mb = b.sumOf { it.toDouble() } / b.size
    var ab = 0.0
    var aa = 0.0
    var bb = 0.0
    for (i in a.indices) {
        val x = a[i] - ma
        val y = b[i] - mb
        ab += x * y; aa += x * x; bb += y * y
    }
    val den = sqrt(aa * bb)
    return if (den > 0) ab / den else 0.0
}

private fun rmse(a: FloatArray, b: FloatArray): Double {
    var s = 0.0
    for (i in a.indices) {
        val d = a[i] - b[i]
        s += (d * d).toDouble()
    }
    return sqrt(s / a.size)
}

/** estimate_depth: a global pass; with detail > 1 tiles aligned to it and blended. */
fun estimateDepth(runner: ModelRunner, facts: ModelFacts, rgb: Rgb8, detail: Double? = null, batch: Int = 1, fit: String = "stretch"): DepthResult {
    val d = detail ?: facts.extraDouble("detail", 1.0)
    val (ih, iw) = facts.input.hw
    val inputH = ih ?: invalid("depth needs a fixed input size")
    val inputW = iw ?: invalid("depth needs a fixed input size")
    val run: RunBatch = { tiles -> runModel(runner, facts, tiles)[0] }
    val (fitted, placement) = fitToInput(rgb, inputH, inputW, fit)
    val low = unfit(run(listOf(fitted))[0].channel(0), placement, inputH, inputW)
    val (wh, ww) = workSize(rgb.height, rgb.width, inputH, inputW, d)
    val guide = resizeFloat(low, wh, ww)
    val stats = mutableListOf<TileStats>()
    val detailed = if (wh > inputH || ww > inputW) {
        val overlap = defaultOverlap(facts, min(inputH, inputW))
        val align = { out: FloatImage, tile: Tile ->
            val target = crop(guide, tile.y, tile.x, tile.h, tile.w).data
            val raw = out.channel(0).data
            val aligned = alignScaleShift(raw, target)
            stats.add(TileStats(tile.row, tile.col, pearson(aligned, target), rmse(raw, target), rmse(aligned, target)))
            FloatImage(tile.h, tile.w, 1, aligned)
        }
        val work = resizeFloat(rgb.toFloat(), wh, ww, Filter.BOX)
        tileImage(work, run, inputH, inputW, overlap, batch = batch, margin = marginFor(facts.receptiveField, overlap), perTile = align).channel(0)
    } else guide
    return DepthResult(resizeFloat(detailed, rgb.height, rgb.width), resizeFloat(low, rgb.height, rgb.width), stats)
}

/** numpy's default (linear) percentile, q in 0..100. */
fun percentile(values: FloatArray, q: Double): Double {
    val sorted = values.map { it.toDouble() }.sorted()
    val rank = q / 100.0 * (sorted.size - 1)
    val lo = kotlin.math.floor(rank).toInt()
    val hi = min(lo + 1, sorted.size - 1)
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo)
}

/** effects.normalize_depth: 0 = nearest, 1 = farthest, from the 1st/99th percentiles. */
fun normalizeDepth(depth: FloatImage, largerIsFarther: Boolean = true): FloatImage {
    val d = FloatArray(depth.data.size) { val v = depth.data[it]; val x = if (v.isNaN()) 0f else v; if (largerIsFarther) x else -x }
    val lo = percentile(d, 1.0).toFloat()
    val hi = percentile(d, 99.0).toFloat()
    if (hi - lo < 1e-6f) return FloatImage(depth.height, depth.width, depth.channels)
    return FloatImage(depth.height, depth.width, depth.channels, FloatArray(d.size) { ((d[it] - lo) / (hi - lo)).coerceIn(0f, 1f) })
}
