package edgephoto.core

import kotlin.math.ceil
import kotlin.math.max
import kotlin.math.min

/**
 * The Python runtime resizes with Pillow (fit_to_input, refine.resize, the upscaler's chroma), so
 * the port resamples the way Pillow does, not the way a phone's bitmap scaler does: separable
 * convolution (horizontal pass, then vertical) with the filter's support widened by the shrink
 * factor, 8-bit images in 22-bit fixed point with an 8-bit intermediate, float images in double;
 * Image.resize's reducing_gap box-reduce first; NEAREST as Pillow's affine scale. Without this a
 * 256² model input differs from Python's by several levels and masks move at the edges.
 */
enum class Filter(val support: Double) {
    BOX(0.5), BILINEAR(1.0), BICUBIC(2.0);

    fun weight(x0: Double): Double {
        val x = if (x0 < 0.0) -x0 else x0
        return when (this) {
            BOX -> if (x0 > -0.5 && x0 <= 0.5) 1.0 else 0.0
            BILINEAR -> if (x < 1.0) 1.0 - x else 0.0
            BICUBIC -> {
                val a = -0.5
                if (x < 1.0) ((a + 2.0) * x - (a + 3.0)) * x * x + 1 else if (x < 2.0) (((x - 5) * x + 8) * x - 4) * a else 0.0
            }
        }
    }
}

/** Bounds (first source index, count) and normalised weights per output index. */
internal class Coeffs(val ksize: Int, val bounds: IntArray, val kk: DoubleArray)

internal fun precomputeCoeffs(inSize: Int, in0: Float, in1: Float, outSize: Int, filter: Filter): Coeffs {
    val scale = (in1 - in0).toDouble() / outSize
    val filterScale = max(scale, 1.0)
    val support = filter.support * filterScale
    val ksize = ceil(support).toInt() * 2 + 1
    val kk = DoubleArray(outSize * ksize)
    val bounds = IntArray(outSize * 2)
    for (xx in 0 until outSize) {
        val center = in0 + (xx + 0.5) * scale
        var ww = 0.0
        val ss = 1.0 / filterScale
        val xmin = max((center - support + 0.5).toInt(), 0)
        val xmax = min((center + support + 0.5).toInt(), inSize) - xmin
        for (x in 0 until xmax) {
            val w = filter.weight((x + xmin - center + 0.5) * ss)
            kk[xx * ksize + x] = w
            ww += w
        }
        if (ww != 0.0) for (x in 0 until xmax) kk[xx * ksize + x] /= ww
        bounds[2 * xx] = xmin
        bounds[2 * xx + 1] = xmax
    }
    return Coeffs(ksize, bounds, kk)
}

private const val PRECISION_BITS = 32 - 8 - 2

private fun fixedPoint(kk: DoubleArray): IntArray = IntArray(kk.size) {
    val v = kk[it] * (1 shl PRECISION_BITS)
    if (kk[it] < 0) (-0.5 + v).toInt() else (0.5 + v).toInt()
}

private fun clip8(ss: Int): Int = (ss shr PRECISION_BITS).coerceIn(0, 255)

/** Planes of bytes (0..255 ints), height x width x channels, the 8-bit resampler's working form. */
class Bytes(val height: Int, val width: Int, val channels: Int, val data: IntArray = IntArray(height * width * channels))

fun Rgb8.toBytes(): Bytes = Bytes(height, width, 3, IntArray(data.size) { data[it].toInt() and 0xFF })

fun Bytes.toFloat(): FloatImage = FloatImage(height, width, channels, FloatArray(data.size) { data[it].toFloat() })

private fun horizontal8(src: Bytes, outW: Int, rowFirst: Int, rows: Int, co: Coeffs): Bytes {
    val k = fixedPoint(co.kk)
    val out = Bytes(rows, outW, src.channels)
    val ch = src.channels
    for (yy in 0 until rows) for (xx in 0 until outW) {
        val xmin = co.bounds[2 * xx]
        val xmax = co.bounds[2 * xx + 1]
        for (c in 0 until ch) {
            var ss = 1 shl (PRECISION_BITS - 1)
            for (x in 0 until xmax) ss += src.data[((yy + rowFirst) * src.width + x + xmin) * ch + c] * k[xx * co.ksize + x]
            out.data[(yy * outW + xx) * ch + c] = clip8(ss)
        }
    }
    return out
}

private fun vertical8(src: Bytes, outH: Int, co: Coeffs, shift: Int): Bytes {
    val k = fixedPoint(co.kk)
    val out = Bytes(outH, src.width, src.channels)
    val ch = src.channels
    for (yy in 0 until outH) {
        val ymin = co.bounds[2 * yy] - shift
        val ymax = co.bounds[2 * yy + 1]
        for (xx in 0 until src.width) for (c in 0 until ch) {
            var ss = 1 shl (PRECISION_BITS - 1)
            for (y in 0 until ymax) ss += src.data[((y + ymin) * src.width + xx) * ch + c] * k[yy * co.ksize + y]
            out.data[(yy * src.width + xx) * ch + c] = clip8(ss)
        }
    }
    return out
}

/** ImagingResample on an 8-bit image: box = (x0, y0, x1, y1) in source px as float32. */
fun resample8(src: Bytes, outW: Int, outH: Int, filter: Filter, box: FloatArray = floatArrayOf(0f, 0f, src.width.toFloat(), src.height.toFloat())): Bytes {
    val needH = outW != src.width || box[0] != 0f || box[2] != outW.toFloat()
    val needV = outH != src.height || box[1] != 0f || box[3] != outH.toFloat()
    val ch = precomputeCoeffs(src.width, box[0], box[2], outW, filter)
    val cv = precomputeCoeffs(src.height, box[1], box[3], outH, filter)
    val first = cv.bounds[0]
    val last = cv.bounds[2 * outH - 2] + cv.bounds[2 * outH - 1]
    var image = src
    var shift = 0
    if (needH) {
        image = horizontal8(src, outW, first, last - first, ch)
        shift = first
    }
    if (needV) image = vertical8(image, outH, cv, shift)
    return if (image === src) Bytes(src.height, src.width, src.channels, src.data.copyOf()) else image
}

/** ImagingResample on a float32 image ('F' mode, each channel on its own). */
fun resampleF(src: FloatImage, outW: Int, outH: Int, filter: Filter, box: FloatArray = floatArrayOf(0f, 0f, src.width.toFloat(), src.height.toFloat())): FloatImage {
    val needH = outW != src.width || box[0] != 0f || box[2] != outW.toFloat()
    val needV = outH != src.height || box[1] != 0f || box[3] != outH.toFloat()
    val chs = src.channels
    val co = precomputeCoeffs(src.width, box[0], box[2], outW, filter)
    val cv = precomputeCoeffs(src.height, box[1], box[3], outH, filter)
    val first = cv.bounds[0]
    val last = cv.bounds[2 * outH - 2] + cv.bounds[2 * outH - 1]
    var image = src
    var shift = 0
    if (needH) {
        val rows = last - first
        val out = FloatImage(rows, outW, chs)
        for (yy in 0 until rows) for (xx in 0 until outW) {
            val xmin = co.bounds[2 * xx]
            val xmax = co.bounds[2 * xx + 1]
            for (c in 0 until chs) {
                var ss = 0.0
                for (x in 0 until xmax) ss += src.data[((yy + first) * src.width + x + xmin) * chs + c] * co.kk[xx * co.ksize + x]
                out.data[(yy * outW + xx) * chs + c] = ss.toFloat()
            }
        }
        image = out
        shift = first
    }
    if (needV) {
        val from = image
        val out = FloatImage(outH, from.width, chs)
        for (yy in 0 until outH) {
            val ymin = cv.bounds[2 * yy] - shift
            val ymax = cv.bounds[2 * yy + 1]
            for (xx in 0 until from.width) for (c in 0 until chs) {
                var ss = 0.0
                for (y in 0 until ymax) ss += from.data[((y + ymin) * from.width + xx) * chs + c] * cv.kk[yy * cv.ksize + y]
                out.data[(yy * from.width + xx) * chs + c] = ss.toFloat()
            }
        }
        image = out
    }
    return if (image === src) src.copy() else image
}

/** Image.reduce on 8-bit pixels: block means rounded as Pillow's (ss + n/2) * (2^32 / 256n) >> 24. */
fun reduce8(src: Bytes, fx: Int, fy: Int, box: IntArray = intArrayOf(0, 0, src.width, src.height)): Bytes {
    val bw = box[2] - box[0]
    val bh = box[3] - box[1]
    val outW = (bw + fx - 1) / fx
    val outH = (bh + fy - 1) / fy
    val out = Bytes(outH, outW, src.channels)
    for (y in 0 until outH) for (x in 0 until outW) {
        val ys = box[1] + y * fy
        val xs = box[0] + x * fx
        val ny = min(fy, box[1] + bh - ys)
        val nx = min(fx, box[0] + bw - xs)
        val n = nx * ny
        val multiplier = (4294967296f / (256 * n).toFloat()).toLong()
        for (c in 0 until src.channels) {
            var ss = (n / 2).toLong()
            for (yy in ys until ys + ny) for (xx in xs until xs + nx) ss += src.data[(yy * src.width + xx) * src.channels + c]
            out.data[(y * outW + x) * src.channels + c] = (((ss * multiplier) and 0xFFFFFFFFL) ushr 24).toInt()
        }
    }
    return out
}

/** Image.resize(NEAREST): Pillow's affine scale, source index floor(x0 + (i + 0.5) * step) accumulated. */
fun nearest8(src: Bytes, outW: Int, outH: Int): Bytes {
    val out = Bytes(outH, outW, src.channels)
    val ax = src.width.toDouble() / outW
    val ay = src.height.toDouble() / outH
    val xin = IntArray(outW)
    var xo = ax * 0.5
    for (x in 0 until outW) {
        xin[x] = if (xo < 0.0) -1 else xo.toInt()
        xo += ax
    }
    var yo = ay * 0.5
    for (y in 0 until outH) {
        val yi = if (yo < 0.0) -1 else yo.toInt()
        yo += ay
        if (yi < 0 || yi >= src.height) continue
        for (x in 0 until outW) {
            if (xin[x] < 0 || xin[x] >= src.width) continue
            System.arraycopy(src.data, (yi * src.width + xin[x]) * src.channels, out.data, (y * outW + x) * src.channels, src.channels)
        }
    }
    return out
}

/** Image.resize(size, filter, reducing_gap) of an 8-bit image: box-reduce by the whole factor first. */
fun pillowResize8(src: Bytes, outW: Int, outH: Int, filter: Filter, reducingGap: Double? = null): Bytes {
    if (outW == src.width && outH == src.height) return Bytes(src.height, src.width, src.channels, src.data.copyOf())
    if (reducingGap == null) return resample8(src, outW, outH, filter)
    val fx = max((src.width.toDouble() / outW / reducingGap).toInt(), 1)
    val fy = max((src.height.toDouble() / outH / reducingGap).toInt(), 1)
    if (fx == 1 && fy == 1) return resample8(src, outW, outH, filter)
    val support = filter.support - 0.5
    val sx = support * src.width / outW
    val sy = support * src.height / outH
    val rb = intArrayOf(
        max(0, (0 - sx).toInt()), max(0, (0 - sy).toInt()),
        min(src.width, ceil(src.width + sx).toInt()), min(src.height, ceil(src.height + sy).toInt()),
    )
    val reduced = reduce8(src, fx, fy, rb)
    val box = floatArrayOf(
        ((0 - rb[0]).toDouble() / fx).toFloat(), ((0 - rb[1]).toDouble() / fy).toFloat(),
        ((src.width - rb[0]).toDouble() / fx).toFloat(), ((src.height - rb[1]).toDouble() / fy).toFloat(),
    )
    return resample8(reduced, outW, outH, filter, box)
}

/** refine.resize: a float image resized channel by channel as Pillow 'F' images (no reducing gap). */
fun resizeFloat(src: FloatImage, outH: Int, outW: Int, filter: Filter = Filter.BILINEAR): FloatImage =
    if (src.height == outH && src.width == outW) src.copy() else resampleF(src, outW, outH, filter)
