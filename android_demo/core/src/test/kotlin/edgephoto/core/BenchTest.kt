package edgephoto.core

import com.google.gson.JsonObject
import java.io.File
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test

/** Bench statistics as bench/stats.py and a results document in the `edgephoto bench` schema. */
class BenchTest {
    @Test
    fun statisticsAreNumpysAndPythons() {
        val values = listOf(5.0, 1.0, 4.0, 2.0, 3.0, 100.0)
        assertEquals(3.5, Stats.median(values), 1e-12)
        assertEquals(2.25, Stats.percentile(values, 25.0), 1e-12) // numpy.percentile(..., 25)
        assertEquals(52.5, Stats.percentile(values, 90.0), 1e-12)
        val s = Stats.summarize(values)
        assertEquals(1, s.get("outliers").asInt) // 100 > Q3 + 3 IQR
        assertEquals(1.5, s.get("mad").asDouble, 1e-12)
        assertEquals(listOf(0, 1, 2, 1, 2, 0), Stats.interleavedSchedule(3, 2))
    }

    @Test
    fun aBenchmarkOfTheRealManifestWritesTheBenchSchema() {
        val (dir, manifest) = Golden.manifest("fsrcnn-x2")
        val runner = FunctionRunner(EngineTensor("IteratorGetNext", listOf(1, null, null, 1), "float32"), EngineTensor("NHWC_output", listOf(1, null, null, 1), "float32")) { x ->
            Tensor(intArrayOf(1, x.shape[1] * 2, x.shape[2] * 2, 1), "float32", FloatArray(x.data.size * 4))
        }
        val photo = rgb8(Golden.load("preprocess").getAsJsonObject("photo").getAsJsonObject("pixels"))
        val item = BenchItem(dir.path, manifest, runner, JsonObject().apply { addProperty("cold_start_ms", 1.0) }, JsonObject()) {
            upscale(runner, manifest.facts, photo)
        }
        val second = BenchItem(dir.path, manifest, runner, JsonObject().apply { addProperty("cold_start_ms", 2.0) }, JsonObject()) {
            upscale(runner, manifest.facts, photo)
        }
        val machine = JsonObject().apply { add("platform", JsonObject().apply { addProperty("system", "jvm") }) }
        val data = benchmark(listOf(item, second), BenchSettings(warmup = 1, runs = 5), machine, "2026-01-01T00:00:00Z")
        assertEquals(emptyList<String>(), validateBench(data))
        val results = data.getAsJsonArray("results")
        assertEquals(2, results.size())
        assertEquals(5, results[0].asJsonObject.getAsJsonObject("latency_ms").get("n").asInt)
        assertTrue(results[0].asJsonObject.get("vs_baseline").isJsonNull)
        assertEquals(2.0, results[1].asJsonObject.getAsJsonObject("vs_baseline").get("cold_start_ratio").asDouble, 1e-12)
        assertEquals("psnr", results[0].asJsonObject.getAsJsonObject("quality").get("parity_metric").asString)
        // the check script hands this file to edgephoto's own report.validate and --render
        Golden.output?.let { out -> out.mkdirs(); File(out, "android_bench_sample.json").writeText(toJsonText(data)) }
        val broken = data.deepCopy().apply { getAsJsonArray("results")[0].asJsonObject.remove("latency_ms") }
        assertTrue(validateBench(broken).contains("results[0].latency_ms"))
    }
}
