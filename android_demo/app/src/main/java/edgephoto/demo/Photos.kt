package edgephoto.demo

import android.content.ContentResolver
import android.graphics.Bitmap
import android.graphics.ImageDecoder
import android.net.Uri
import edgephoto.core.FloatImage
import edgephoto.core.Rgb8
import kotlin.math.max
import kotlin.math.roundToInt

/** Photos in and out of the core's types. */
object Photos {
    /** Long side the demo works at: a phone photo is 12 MP; the steps' times are per this size. */
    const val MAX_SIDE = 1600

    /** Decode with EXIF orientation applied (ImageDecoder does), shrunk to MAX_SIDE, software ARGB. */
    fun decode(resolver: ContentResolver, uri: Uri): Bitmap {
        val source = ImageDecoder.createSource(resolver, uri)
        return ImageDecoder.decodeBitmap(source) { decoder, info, _ ->
            decoder.allocator = ImageDecoder.ALLOCATOR_SOFTWARE
            val side = max(info.size.width, info.size.height)
            if (side > MAX_SIDE) {
                val f = MAX_SIDE.toDouble() / side
                decoder.setTargetSize((info.size.width * f).roundToInt(), (info.size.height * f).roundToInt())
            }
        }.copy(Bitmap.Config.ARGB_8888, false)
    }

    fun toRgb8(bitmap: Bitmap): Rgb8 {
        val pixels = IntArray(bitmap.width * bitmap.height)
        bitmap.getPixels(pixels, 0, bitmap.width, 0, 0, bitmap.width, bitmap.height)
        return Rgb8.fromArgb(bitmap.height, bitmap.width, pixels)
    }

    fun toBitmap(rgb: Rgb8): Bitmap = Bitmap.createBitmap(rgb.toArgb(), rgb.width, rgb.height, Bitmap.Config.ARGB_8888)

    /** A 0..1 map as grey (depth: near = bright, as the pipeline's depth PNG). */
    fun grey(map: FloatImage, invert: Boolean = false): Bitmap {
        val pixels = IntArray(map.height * map.width) {
            val v = map.data[it * map.channels].coerceIn(0f, 1f)
            val g = ((if (invert) 1f - v else v) * 255f).roundToInt()
            (0xFF shl 24) or (g shl 16) or (g shl 8) or g
        }
        return Bitmap.createBitmap(pixels, map.width, map.height, Bitmap.Config.ARGB_8888)
    }

    /** The photo with its matte as alpha (effects.remove_background): a cut-out. */
    fun cutOut(rgb: Rgb8, matte: FloatImage): Bitmap {
        val argb = rgb.toArgb()
        for (i in argb.indices) {
            val a = Math.rint((matte.data[i].coerceIn(0f, 1f) * 255f).toDouble()).toInt()
            argb[i] = (a shl 24) or (argb[i] and 0xFFFFFF)
        }
        return Bitmap.createBitmap(argb, rgb.width, rgb.height, Bitmap.Config.ARGB_8888)
    }
}
