package edgephoto.core

import kotlin.math.exp
import kotlin.math.floor
import kotlin.math.max
import kotlin.math.min

/**
 * Pre- and post-processing shared by every task, ported from runtime/tasks/common.py,
 * segmentation.py and refine.py: colour the model reads (RGB, BGR or BT.601 luma), resizing a
 * photo into the input (stretch or letterbox, Pillow's filters), cutting the output back to the
 * content box, probabilities, and the one-pass bilinear mask upsampling.
 */

/** BT.601 full-range YCbCr of RGB 0..255 floats, (H, W, 3). */
fun rgbToYcbcr(rgb: FloatImage): FloatImage {
    require(rgb.channels == 3) { "YCbCr needs 3 channels, got ${rgb.channels}" }
    val out = FloatImage(rgb.height, rgb.width, 3)
    val d = rgb.data
    for (i in 0 until rgb.height * rgb.width) {
        val r = d[3 * i]
        val g = d[3 * i + 1]
        val b = d[3 * i + 2]
        out.data[3 * i] = 0.299f * r + 0.587f * g + 0.114f * b
        out.data[3 * i + 1] = -0.168736f * r - 0.331264f * g + 0.5f * b + 128f
        out.data[3 * i + 2] = 0.5f * r - 0.418688f * g - 0.081312f * b + 128f
    }
    return out
}

/** RGB pixels in the colour the model reads: as is, BGR, or luma (1 channel); 1-channel input passes. */
fun modelColour(pixels: FloatImage, norm: Normalization?): FloatImage {
    if (norm == null || pixels.channels != 3) return pixels
    return when (norm.color) {
        "BGR" -> FloatImage(pixels.height, pixels.width, 3, FloatArray(pixels.data.size) { pixels.data[it - it % 3 + 2 - it % 3] })
        "Y" -> rgbToYcbcr(pixels).channel(0)
        else -> pixels
    }
}

/**
 * (H, W, 3) RGB 0..255 at the tensor's size -> the tensor's values (colour, normalisation, dtype),
 * still HWC: as model_input, the layout transpose happens when the runner packs the batch.
 */
fun modelInput(pixels: FloatImage, tensor: TensorFacts): FloatImage {
    val norm = tensor.normalization
    val values = modelColour(pixels, norm)
    if (norm != null) return norm.apply(values, tensor.dtype)
    return if (isIntegerDtype(tensor.dtype)) FloatImage(values.height, values.width, values.channels, FloatArray(values.data.size) { values.data[it].toInt().toFloat() }) else values
}

/** Where a photo sits inside the model input: content box (y, x, h, w) in input px. */
data class Fit(val y: Int, val x: Int, val h: Int, val w: Int, val photoH: Int, val photoW: Int)

val FIT_MODES = listOf("stretch", "letterbox")

/** fit_to_input: resize an 8-bit photo to (h, w) by 'stretch' or 'letterbox' (black bars, centred). */
fun fitToInput(rgb: Rgb8, h: Int, w: Int, mode: String = "stretch", sampled: Boolean = false): Pair<FloatImage, Fit> {
    if (mode !in FIT_MODES) invalid("fit must be 'stretch' or 'letterbox', got '$mode'")
    val ph = rgb.height
    val pw = rgb.width
    if (mode == "stretch") return Pair(resizePhoto(rgb, h, w, sampled), Fit(0, 0, h, w, ph, pw))
    val ratio = min(h.toDouble() / ph, w.toDouble() / pw)
    val ch = max(1, Math.rint(ph * ratio).toInt())
    val cw = max(1, Math.rint(pw * ratio).toInt())
    val y0 = (h - ch) / 2
    val x0 = (w - cw) / 2
    val canvas = FloatImage(h, w, 3)
    val inner = resizePhoto(rgb, ch, cw, sampled)
    for (y in 0 until ch) System.arraycopy(inner.data, y * cw * 3, canvas.data, ((y0 + y) * w + x0) * 3, cw * 3)
    return Pair(canvas, Fit(y0, x0, ch, cw, ph, pw))
}

/** _resize_photo: Pillow bilinear with reducing_gap=1, or (sampled) nearest at 2x then a 2x2 mean. */
fun resizePhoto(rgb: Rgb8, h: Int, w: Int, sampled: Boolean = false): FloatImage {
    val bytes = rgb.toBytes()
    val out = if (sampled && (rgb.height >= 2 * h || rgb.width >= 2 * w)) {
        reduce8(nearest8(bytes, 2 * w, 2 * h), 2, 2)
    } else {
        pillowResize8(bytes, w, h, Filter.BILINEAR, reducingGap = 1.0)
    }
    return out.toFloat()
}

/** Crop a model-resolution map to the content box (the output may differ in size from the input). */
fun unfit(values: FloatImage, fit: Fit, inputH: Int, inputW: Int): FloatImage {
    val sy = values.height.toDouble() / inputH
    val sx = values.width.toDouble() / inputW
    return values.region(
        Math.rint(fit.y * sy).toInt(), Math.rint(fit.x * sx).toInt(),
        Math.rint((fit.y + fit.h) * sy).toInt(), Math.rint((fit.x + fit.w) * sx).toInt(),
    )
}

/** (h, w, C) output to a 0..1 foreground map: softmax over C > 1 channels, else clip. */
fun probability(values: FloatImage, foreground: Int = 1): FloatImage {
    val n = values.height * values.width
    val c = values.channels
    val out = FloatImage(values.height, values.width, 1)
    for (i in 0 until n) {
        if (c == 1) {
            out.data[i] = values.data[i].coerceIn(0f, 1f)
            continue
        }
        var top = Float.NEGATIVE_INFINITY
        for (k in 0 until c) top = max(top, values.data[i * c + k])
        var sum = 0f
        var fg = 0f
        for (k in 0 until c) {
            val e = exp((values.data[i * c + k] - top).toDouble()).toFloat()
            sum += e
            if (k == foreground) fg = e
        }
        out.data[i] = fg / sum
    }
    return out
}

/** Bilinear source rows for nIn -> nOut with half-pixel centres, clamped (refine._taps). */
internal fun taps(nOut: Int, nIn: Int): Pair<IntArray, FloatArray> {
    val low = IntArray(nOut)
    val frac = FloatArray(nOut)
    for (i in 0 until nOut) {
        val pos = ((i + 0.5) * (nIn.toDouble() / nOut) - 0.5).coerceIn(0.0, (nIn - 1).toDouble())
        low[i] = floor(pos).toInt()
        frac[i] = (pos - low[i]).toFloat()
    }
    return Pair(low, frac)
}

/** upsample_bilinear: a (h, w) map enlarged in one pass; Pillow's bilinear when shrinking by > 2x. */
fun upsampleBilinear(low: FloatImage, height: Int, width: Int, clip: Boolean = false): FloatImage {
    require(low.channels == 1) { "upsampleBilinear takes a 1-channel map" }
    val h = low.height
    val w = low.width
    if (2 * height < h || 2 * width < w) {
        val out = resizeFloat(low, height, width)
        if (clip) for (i in out.data.indices) out.data[i] = out.data[i].coerceIn(0f, 1f)
        return out
    }
    val (x0, fx) = taps(width, w)
    val (y0, fy) = taps(height, h)
    val cols = FloatArray(h * width)
    for (y in 0 until h) for (x in 0 until width) {
        val a = low.data[y * w + x0[x]]
        val b = low.data[y * w + min(x0[x] + 1, w - 1)]
        cols[y * width + x] = a + (b - a) * fx[x]
    }
    val out = FloatImage(height, width, 1)
    for (y in 0 until height) {
        val r = y0[y]
        for (x in 0 until width) {
            val step = if (r + 1 < h) cols[(r + 1) * width + x] - cols[r * width + x] else 0f
            var v = cols[r * width + x] + step * fy[y]
            if (clip) v = v.coerceIn(0f, 1f)
            out.data[y * width + x] = v
        }
    }
    return out
}
