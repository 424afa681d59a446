package edgephoto.core

import java.io.File
import java.nio.file.Files
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNotNull
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test

/** Real manifests written by `edgephoto convert` (the check script converts them first). */
class ManifestTest {
    @Test
    fun fsrcnnManifestReadsAsTheRuntimeReadsIt() {
        val (dir, m) = Golden.manifest("fsrcnn-x2")
        assertEquals("upscale", m.task)
        assertEquals("tflite", m.target)
        val facts = m.facts
        assertEquals(2, facts.scale)
        assertEquals(Pair<Int?, Int?>(null, null), facts.input.hw)
        assertEquals(1, facts.input.channels)
        assertEquals("Y", facts.input.normalization!!.color)
        assertEquals(255f, facts.input.normalization!!.stdAt(0))
        assertEquals("tile", facts.tileMode)
        assertTrue(facts.tile > 0 && facts.overlap > 0 && facts.receptiveField > 0)
        assertNotNull("the .tflite is listed", m.modelFile(".tflite"))
        verify(dir, m)
        val quality = m.quality()
        assertEquals("psnr", quality.get("parity_metric").asString)
        assertTrue("parity was measured", quality.get("parity_value").asDouble > 40)
    }

    @Test
    fun selfieAndFastdepthFactsFeedTheirTasks() {
        val selfie = Golden.manifest("selfie").second.facts
        assertEquals("segmentation", selfie.task)
        assertEquals(Pair<Int?, Int?>(256, 256), selfie.input.hw)
        val depth = Golden.manifest("fastdepth").second.facts
        assertEquals("depth", depth.task)
        assertEquals("uint8", depth.input.dtype)
        val q = depth.output().quantization
        // FastDepth's output is integer codes with a (scale, zero_point): metres = (q - zp) * scale
        if (isIntegerDtype(depth.output().dtype)) assertNotNull("an integer output carries its quantization", q)
        for (name in listOf("selfie", "fastdepth")) verify(Golden.manifest(name).first, Golden.manifest(name).second)
    }

    @Test
    fun aTamperedArtifactIsRefused() {
        val (dir, m) = Golden.manifest("fsrcnn-x2")
        val copy = Files.createTempDirectory("edgephoto-tamper").toFile()
        try {
            dir.copyRecursively(copy)
            val model = File(copy, m.modelFile(".tflite")!!)
            val bytes = model.readBytes()
            bytes[bytes.size / 2] = (bytes[bytes.size / 2].toInt() xor 1).toByte()
            model.writeBytes(bytes)
            try {
                verify(copy, Manifest.read(copy))
                fail("a flipped bit passed verify")
            } catch (exc: HashMismatchException) {
                assertTrue(exc.message!!.contains("sha256"))
            }
            model.delete()
            try {
                verify(copy, Manifest.read(copy))
                fail("a missing file passed verify")
            } catch (exc: InputFileException) {
                assertTrue(exc.message!!.contains("missing"))
            }
        } finally {
            copy.deleteRecursively()
        }
    }

    @Test
    fun corruptOrForeignManifestsAreRefusedWithTheReason() {
        for ((text, reason) in listOf("{" to "corrupt", "[]" to "JSON object", "{\"schema\": 99, \"inputs\": [], \"outputs\": []}" to "newer", "{\"model\": \"x\"}" to "inputs")) {
            try {
                Manifest.parse(text)
                fail("parsed $text")
            } catch (exc: InputFileException) {
                assertTrue("$text: ${exc.message}", exc.message!!.contains(reason))
            }
        }
    }

    @Test
    fun openDimsAndQuantizationParse() {
        val m = Manifest.parse(
            """{"task":"depth","inputs":[{"name":"x","shape":[1,-1,null,3],"dtype":"uint8"}],
               "outputs":[{"name":"d","shape":[1,224,224,1],"dtype":"uint8","quantization":{"scale":0.0717,"zero_point":0}}]}""",
        )
        assertEquals(listOf(1, null, null, 3), m.facts.input.shape)
        assertNull(m.facts.input.normalization)
        val out = m.facts.output("d")
        assertEquals(0.0717f * 10, out.dequantize(10f, holdsCodes = true), 1e-6f)
        assertEquals(10f, out.dequantize(10f, holdsCodes = false), 0f)
    }
}
