package edgephoto.core

import kotlin.math.PI
import kotlin.math.cos
import kotlin.math.max
import kotlin.math.min
import kotlin.math.sqrt

/**
 * Seam-free tiling, a port of src/edgephoto/runtime/tiling.py (read its docstring for the why):
 * uniform tiles at the model's size, the last row/column shifted back inside the photo, borders
 * reflect-padded by overlap/2, per-axis blend weights (zero for `margin` px, then a linear or
 * cosine ramp) normalised to a partition of unity. The same float64 weights cast to float32 and
 * the same float32 accumulation order as numpy, so blends match the Python runtime's to float error.
 */
data class Tile(val y: Int, val x: Int, val h: Int, val w: Int, val row: Int, val col: Int)

val RAMPS = listOf("linear", "cosine")

/** Fold any position onto 0..n-1 by mirroring without repeating the edge pixel. */
fun reflectIndex(index: Int, n: Int): Int {
    if (n == 1) return 0
    val period = 2 * (n - 1)
    val folded = Math.floorMod(index, period)
    return if (folded < n) folded else period - folded
}

/** The h x w window at (y, x), reflect-padded wherever it leaves the image. */
fun crop(image: FloatImage, y: Int, x: Int, h: Int, w: Int): FloatImage {
    val out = FloatImage(h, w, image.channels)
    val c = image.channels
    val cols = IntArray(w) { reflectIndex(x + it, image.width) }
    for (i in 0 until h) {
        val sy = reflectIndex(y + i, image.height)
        for (j in 0 until w) {
            System.arraycopy(image.data, (sy * image.width + cols[j]) * c, out.data, (i * w + j) * c, c)
        }
    }
    return out
}

/** Tile starts along one axis, in image coordinates (the first is -overlap/2). */
fun axisStarts(length: Int, tile: Int, overlap: Int): List<Int> {
    if (overlap < 0 || overlap >= tile) invalid("overlap must be in 0..tile-1, got $overlap for tile $tile")
    val pad = overlap / 2
    val padded = length + 2 * pad
    if (padded <= tile) return listOf(-pad)
    val stride = tile - overlap
    val starts = (0 until padded - tile step stride).toMutableList()
    starts.add(padded - tile)
    return starts.map { it - pad }
}

/** Zero-weight edge px: the receptive radius if a ramp of `minRamp` px still fits, else overlap/4. */
fun marginFor(receptiveField: Int, overlap: Int, minRamp: Int = 8): Int {
    val radius = max(receptiveField - 1, 0) / 2
    return if (overlap - 2 * radius >= min(minRamp, overlap)) radius else overlap / 4
}

/** (tiles, length*scale) blend weights along one axis; each column sums to 1. */
fun axisWeights(
    length: Int, starts: List<Int>, tile: Int, overlap: Int, scale: Int = 1, margin: Int = 0, ramp: String = "cosine",
): Array<FloatArray> {
    if (ramp !in RAMPS) invalid("ramp must be one of $RAMPS, got '$ramp'")
    if (margin < 0 || 2 * margin > overlap) invalid("margin $margin must be in 0..overlap/2 ($overlap)")
    val width = max((overlap - 2 * margin).toDouble(), 1e-3)
    val n = length * scale
    val raw = Array(starts.size) { DoubleArray(n) }
    for ((i, start) in starts.withIndex()) {
        for (p in 0 until n) {
            val centre = (p + 0.5) / scale
            if (centre < start || centre >= start + tile) continue
            val rise = if (i > 0) ((centre - start - margin) / width).coerceIn(0.0, 1.0) else 1.0
            val fall = if (i < starts.size - 1) ((start + tile - centre - margin) / width).coerceIn(0.0, 1.0) else 1.0
            var shape = rise * fall
            if (ramp == "cosine") shape = 0.5 - 0.5 * cos(PI * shape)
            raw[i][p] = shape
        }
    }
    val out = Array(starts.size) { FloatArray(n) }
    for (p in 0 until n) {
        var total = 0.0
        for (i in starts.indices) total += raw[i][p]
        if (total <= 0.0) invalid("tile layout leaves pixels uncovered (margin too large)")
        for (i in starts.indices) out[i][p] = (raw[i][p] / total).toFloat()
    }
    return out
}

/** All tiles of an image, row-major. */
fun tileGrid(height: Int, width: Int, th: Int, tw: Int, overlap: Int): List<Tile> {
    val ys = axisStarts(height, th, overlap)
    val xs = axisStarts(width, tw, overlap)
    return ys.flatMapIndexed { r, y -> xs.mapIndexed { c, x -> Tile(y, x, th, tw, r, c) } }
}

/** Maps a batch of (th, tw, C) float tiles to (th*s, tw*s, C') outputs (an engine call). */
typealias RunBatch = (List<FloatImage>) -> List<FloatImage>

/**
 * Run `runBatch` over uniform tiles of `image` and blend at output `scale`, as tile_image.
 * `perTile(out, tile)` may adjust each output tile before blending (depth alignment).
 */
fun tileImage(
    image: FloatImage, runBatch: RunBatch, th: Int, tw: Int, overlap: Int, scale: Int = 1, batch: Int = 1,
    margin: Int = 0, ramp: String = "cosine", perTile: ((FloatImage, Tile) -> FloatImage)? = null,
    progress: ((Int, Int) -> Unit)? = null,
): FloatImage {
    if (batch < 1 || scale < 1) invalid("batch and scale must be >= 1 (got $batch, $scale)")
    val height = image.height
    val width = image.width
    val ys = axisStarts(height, th, overlap)
    val xs = axisStarts(width, tw, overlap)
    val wy = axisWeights(height, ys, th, overlap, scale, margin, ramp)
    val wx = axisWeights(width, xs, tw, overlap, scale, margin, ramp)
    val outH = height * scale
    val outW = width * scale
    var result: FloatImage? = null
    var done = 0
    val total = ys.size * xs.size
    for ((r, y) in ys.withIndex()) {
        val lo = max(y * scale, 0)
        val hi = min((y + th) * scale, outH)
        for (cols in xs.indices.chunked(batch)) {
            val outputs = runBatch(cols.map { crop(image, y, xs[it], th, tw) })
            if (outputs.size != cols.size || outputs.any { it.height != th * scale || it.width != tw * scale }) {
                invalid("runBatch returned ${outputs.map { "${it.height}x${it.width}" }}, expected ${cols.size} of ${th * scale}x${tw * scale}")
            }
            for ((k, c) in cols.withIndex()) {
                val tile = Tile(y, xs[c], th, tw, r, c)
                val out = perTile?.invoke(outputs[k], tile) ?: outputs[k]
                val acc = result ?: FloatImage(outH, outW, out.channels).also { result = it }
                val x0 = max(xs[c] * scale, 0)
                val x1 = min((xs[c] + tw) * scale, outW)
                val ch = acc.channels
                for (oy in lo until hi) {
                    val rowWeight = wy[r][oy]
                    val ty = oy - y * scale
                    for (ox in x0 until x1) {
                        val weight = rowWeight * wx[c][ox]
                        val src = (ty * out.width + (ox - xs[c] * scale)) * out.channels
                        val dst = (oy * outW + ox) * ch
                        for (k2 in 0 until ch) acc.data[dst + k2] += out.data[src + k2] * weight
                    }
                }
            }
            done += cols.size
            progress?.invoke(done, total)
        }
    }
    return result!!
}

/** The reference tileImage must match: the model once on the image reflect-padded by overlap/2. */
fun untiled(image: FloatImage, runBatch: RunBatch, overlap: Int, scale: Int = 1): FloatImage {
    val pad = overlap / 2
    val padded = crop(image, -pad, -pad, image.height + 2 * pad, image.width + 2 * pad)
    val out = runBatch(listOf(padded))[0]
    return out.region(pad * scale, pad * scale, (pad + image.height) * scale, (pad + image.width) * scale)
}

private fun ceilDiv(a: Int, b: Int): Int = -Math.floorDiv(-a, b)

/** (th, tw) of at most `maxPx` px covering the image in the fewest computed px (open-H/W models). */
fun evenTiles(height: Int, width: Int, maxPx: Int, overlap: Int, minimum: Int = 32): Pair<Int, Int> {
    val pad = overlap / 2
    var best: Triple<Long, Int, Int>? = null
    val smallest = max(minimum, overlap + 1)
    for (ny in 1 until height / max(minimum - overlap, 1) + 2) {
        val th = maxOf(ceilDiv(height + 2 * pad + (ny - 1) * overlap, ny), minimum, overlap + 1)
        if (th.toLong() * smallest > maxPx) continue
        var nx = 1
        var tw: Int
        while (true) {
            tw = maxOf(ceilDiv(width + 2 * pad + (nx - 1) * overlap, nx), minimum, overlap + 1)
            if (th.toLong() * tw <= maxPx || tw <= smallest) break
            nx += 1
        }
        val cost = axisStarts(height, th, overlap).size.toLong() * axisStarts(width, tw, overlap).size * th * tw
        if (best == null || cost < best.first) best = Triple(cost, th, tw)
    }
    return if (best == null) Pair(smallest, smallest) else Pair(best.second, best.third)
}

/** Largest tile (a multiple of `multiple`) whose float32 batch fits `budgetBytes`. */
fun tileFromBudget(
    budgetBytes: Long, scale: Int, inChannels: Int, outChannels: Int, overlap: Int, batch: Int = 1,
    features: Int = 64, multiple: Int = 8, minimum: Int = 32, maximum: Int = 1024,
): Int {
    val perPx = 4.0 * batch * (inChannels + 2 * features + scale * scale * outChannels)
    val side = sqrt(max(budgetBytes, 0L) / perPx).toInt() / multiple * multiple
    return maxOf(min(side, maximum), minimum, overlap + multiple)
}
