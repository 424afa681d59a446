package edgephoto.core

/**
 * The two image types the core passes around, both row-major HWC like the Python runtime's numpy
 * arrays: [Rgb8] for photos (what a camera or gallery decodes to) and [FloatImage] for everything
 * in float32 (pixels 0..255, model inputs and outputs, masks, weights).
 */
class FloatImage(val height: Int, val width: Int, val channels: Int, val data: FloatArray = FloatArray(height * width * channels)) {
    init {
        require(height >= 0 && width >= 0 && channels > 0) { "bad image size ${height}x${width}x$channels" }
        require(data.size == height * width * channels) {
            "data has ${data.size} values, ${height}x${width}x$channels needs ${height * width * channels}"
        }
    }

    operator fun get(y: Int, x: Int, c: Int = 0): Float = data[(y * width + x) * channels + c]

    operator fun set(y: Int, x: Int, c: Int, value: Float) {
        data[(y * width + x) * channels + c] = value
    }

    /** One channel as its own (H, W, 1) image. */
    fun channel(c: Int): FloatImage {
        val out = FloatImage(height, width, 1)
        for (i in 0 until height * width) out.data[i] = data[i * channels + c]
        return out
    }

    /** Rows [y0, y1) and columns [x0, x1), copied. */
    fun region(y0: Int, x0: Int, y1: Int, x1: Int): FloatImage {
        val out = FloatImage(y1 - y0, x1 - x0, channels)
        val rowLen = (x1 - x0) * channels
        for (y in y0 until y1) System.arraycopy(data, (y * width + x0) * channels, out.data, (y - y0) * rowLen, rowLen)
        return out
    }

    fun copy(): FloatImage = FloatImage(height, width, channels, data.copyOf())
}

/** An 8-bit RGB photo, 3 bytes per pixel. */
class Rgb8(val height: Int, val width: Int, val data: ByteArray = ByteArray(height * width * 3)) {
    init {
        require(data.size == height * width * 3) { "data has ${data.size} bytes, ${height}x${width}x3 needs ${height * width * 3}" }
    }

    fun get(y: Int, x: Int, c: Int): Int = data[(y * width + x) * 3 + c].toInt() and 0xFF

    fun toFloat(): FloatImage {
        val out = FloatImage(height, width, 3)
        for (i in data.indices) out.data[i] = (data[i].toInt() and 0xFF).toFloat()
        return out
    }

    companion object {
        /** Packed ARGB ints (Android's Bitmap.getPixels, iOS CGImage after a copy) to RGB bytes. */
        fun fromArgb(height: Int, width: Int, argb: IntArray): Rgb8 {
            require(argb.size == height * width) { "${argb.size} pixels for ${height}x$width" }
            val out = Rgb8(height, width)
            for (i in argb.indices) {
                val p = argb[i]
                out.data[3 * i] = (p shr 16).toByte()
                out.data[3 * i + 1] = (p shr 8).toByte()
                out.data[3 * i + 2] = p.toByte()
            }
            return out
        }
    }

    /** Packed opaque ARGB ints, for an Android Bitmap.setPixels. */
    fun toArgb(): IntArray = IntArray(height * width) { i ->
        (0xFF shl 24) or (get(i / width, i % width, 0) shl 16) or (get(i / width, i % width, 1) shl 8) or
            get(i / width, i % width, 2)
    }
}

/** numpy's np.clip(np.rint(v), 0, 255).astype(uint8): round half to even, then saturate. */
fun toUint8(value: Float): Int {
    val r = Math.rint(value.toDouble())
    return if (r <= 0.0) 0 else if (r >= 255.0) 255 else r.toInt()
}

/** A float image of 0..255 pixels (3 channels) to an 8-bit photo, as the runtime's to_uint8. */
fun FloatImage.toRgb8(): Rgb8 {
    require(channels == 3) { "an RGB photo needs 3 channels, got $channels" }
    val out = Rgb8(height, width)
    for (i in data.indices) out.data[i] = toUint8(data[i]).toByte()
    return out
}
