package edgephoto.core

import com.google.gson.GsonBuilder
import com.google.gson.JsonArray
import com.google.gson.JsonNull
import com.google.gson.JsonObject
import kotlin.math.floor
import kotlin.math.min
import kotlin.math.sqrt

/**
 * On-device benchmarks in the `edgephoto bench` JSON schema (src/edgephoto/bench/runner.py,
 * stats.py), so a phone's numbers merge with the rest and `edgephoto bench --render` draws them:
 * the same summary (type-7 percentiles, MAD, IQR, Q3 + 3 IQR outliers), the same round-robin
 * schedule rotating its start, ratios against the first artifact of each model.
 */
const val BENCH_SCHEMA = "edgephoto.bench/1"
val RESULT_KEYS = listOf("label", "artifact", "model", "target", "precision", "size_bytes", "backend", "load", "latency_ms", "throughput_per_s", "peak_rss_mb", "quality", "vs_baseline")
val LATENCY_KEYS = listOf("n", "min", "median", "mean", "p90", "p99", "max", "stdev")

object Stats {
    fun percentile(values: List<Double>, q: Double): Double {
        if (values.isEmpty()) invalid("percentile of no values")
        if (q < 0.0 || q > 100.0) invalid("percentile must be within 0..100, got $q")
        val ordered = values.sorted()
        val rank = q / 100.0 * (ordered.size - 1)
        val low = floor(rank).toInt()
        val high = min(low + 1, ordered.size - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
    }

    fun median(values: List<Double>) = percentile(values, 50.0)

    fun mean(values: List<Double>): Double {
        if (values.isEmpty()) invalid("mean of no values")
        return values.sum() / values.size
    }

    fun stdev(values: List<Double>): Double {
        if (values.size < 2) return 0.0
        val centre = mean(values)
        return sqrt(values.sumOf { (it - centre) * (it - centre) } / (values.size - 1))
    }

    fun mad(values: List<Double>): Double {
        val centre = median(values)
        return median(values.map { kotlin.math.abs(it - centre) })
    }

    fun summarize(values: List<Double>): JsonObject {
        if (values.isEmpty()) invalid("no timed runs to summarize")
        val q1 = percentile(values, 25.0)
        val q3 = percentile(values, 75.0)
        val fence = q3 + 3.0 * (q3 - q1)
        return JsonObject().apply {
            addProperty("n", values.size)
            addProperty("min", values.min())
            addProperty("median", median(values))
            addProperty("mean", mean(values))
            addProperty("p90", percentile(values, 90.0))
            addProperty("p99", percentile(values, 99.0))
            addProperty("max", values.max())
            addProperty("stdev", stdev(values))
            addProperty("mad", mad(values))
            addProperty("iqr", q3 - q1)
            addProperty("outliers", values.count { it > fence })
        }
    }

    /** Round r runs r % count, r % count + 1, ...: count=3, runs=2 -> [0, 1, 2, 1, 2, 0]. */
    fun interleavedSchedule(count: Int, runs: Int): List<Int> {
        if (count < 1) invalid("need at least one artifact to schedule, got $count")
        if (runs < 1) invalid("--runs must be at least 1, got $runs")
        return (0 until runs).flatMap { r -> (0 until count).map { k -> (r + k) % count } }
    }
}

/** One artifact to measure: its manifest, a loaded runner and one inference on a fixed feed. */
class BenchItem(
    val artifact: String,
    val manifest: Manifest,
    val runner: ModelRunner,
    val load: JsonObject, // verify_ms, load_ms, first_run_ms, cold_start_ms
    val feed: JsonObject,
    val warnings: List<String> = emptyList(),
    val runOnce: () -> Unit,
)

data class BenchSettings(val warmup: Int = 5, val runs: Int = 50, val threads: Int? = null, val device: String = "auto", val input: String = "real")

private fun ratio(value: Double?, base: Double?): Double? = if (value == null || base == null || base == 0.0) null else value / base

private fun num(o: JsonObject, vararg path: String): Double? {
    var cur: JsonObject = o
    for (key in path.dropLast(1)) cur = cur.obj(key) ?: return null
    val v = cur.get(path.last()) ?: return null
    return if (v.isJsonPrimitive && v.asJsonPrimitive.isNumber) v.asDouble else null
}

private fun JsonObject.put(key: String, value: Double?) = if (value == null) add(key, JsonNull.INSTANCE) else addProperty(key, value)

/** stats.versus: the vs_baseline entry of `result` against `base`. */
fun versus(result: JsonObject, base: JsonObject): JsonObject = JsonObject().apply {
    addProperty("baseline", base.str("label"))
    put("speedup_median", ratio(num(base, "latency_ms", "median"), num(result, "latency_ms", "median")))
    put("median_ratio", ratio(num(result, "latency_ms", "median"), num(base, "latency_ms", "median")))
    put("p90_ratio", ratio(num(result, "latency_ms", "p90"), num(base, "latency_ms", "p90")))
    put("size_ratio", ratio(num(result, "size_bytes"), num(base, "size_bytes")))
    put("peak_rss_ratio", ratio(num(result, "peak_rss_mb"), num(base, "peak_rss_mb")))
    put("cold_start_ratio", ratio(num(result, "load", "cold_start_ms"), num(base, "load", "cold_start_ms")))
}

fun RunnerInfo.toJson(): JsonObject = JsonObject().apply {
    addProperty("backend", backend)
    addProperty("requested_device", requestedDevice)
    addProperty("device", device)
    addProperty("accelerator", accelerator)
    if (threads == null) add("threads", JsonNull.INSTANCE) else addProperty("threads", threads)
    add("precision_hint", JsonNull.INSTANCE)
    addProperty("batch", false)
    addProperty("engine_version", engineVersion)
    if (fallback != null) addProperty("fallback", fallback)
}

/**
 * Warm every item up, then time `runs` runs each, interleaved. `clock` is nanoTime-like, `cpuClock`
 * the calling thread's CPU time in ns (null where the platform has none); `peakRssMb` reads the
 * process's peak memory after the runs. `machine` is the platform's description.
 */
fun benchmark(
    items: List<BenchItem>, settings: BenchSettings, machine: JsonObject, created: String,
    clock: () -> Long = System::nanoTime, cpuClock: (() -> Long)? = null, peakRssMb: () -> Double? = { null },
    progress: ((Int, Int) -> Unit)? = null,
): JsonObject {
    if (items.isEmpty()) invalid("no artifacts given")
    val started = clock()
    for (item in items) repeat(settings.warmup) { item.runOnce() }
    val samples = List(items.size) { mutableListOf<Double>() }
    val cpu = List(items.size) { mutableListOf<Double>() }
    val schedule = Stats.interleavedSchedule(items.size, settings.runs)
    for ((step, index) in schedule.withIndex()) {
        val c0 = cpuClock?.invoke()
        val t0 = clock()
        items[index].runOnce()
        val t1 = clock()
        val c1 = cpuClock?.invoke()
        samples[index].add((t1 - t0) / 1e6)
        if (c0 != null && c1 != null) cpu[index].add((c1 - c0) / 1e6)
        progress?.invoke(step + 1, schedule.size)
    }
    val peak = peakRssMb()
    val results = JsonArray()
    val taken = mutableSetOf<String>()
    val firstOfModel = mutableMapOf<String, JsonObject>()
    for ((k, item) in items.withIndex()) {
        val m = item.manifest
        var label = "${m.model} ${m.target}-${m.precision} @${item.runner.info.backend}-${item.runner.info.device}"
        val base = label
        var n = 2
        while (!taken.add(label)) label = "$base #${n++}"
        val summary = Stats.summarize(samples[k])
        val r = JsonObject().apply {
            addProperty("label", label)
            addProperty("artifact", item.artifact)
            addProperty("model", m.model)
            addProperty("task", m.task)
            addProperty("target", m.target)
            addProperty("precision", m.precision)
            addProperty("size_bytes", m.sizeBytes)
            add("backend", item.runner.info.toJson())
            add("warnings", JsonArray().also { a -> item.warnings.forEach(a::add) })
            add("feed", item.feed)
            add("load", item.load)
            add("latency_ms", summary)
            add("cpu_ms", if (cpu[k].isEmpty()) JsonNull.INSTANCE else Stats.summarize(cpu[k]))
            val mean = summary.get("mean").asDouble
            put("throughput_per_s", if (mean > 0) 1000.0 / mean else null)
            put("peak_rss_mb", peak)
            add("quality", m.quality())
            add("work", JsonNull.INSTANCE)
            add("samples_ms", JsonArray().also { a -> samples[k].forEach(a::add) })
            add("cpu_samples_ms", JsonArray().also { a -> cpu[k].forEach(a::add) })
        }
        val first = firstOfModel.getOrPut(m.model) { r }
        r.add("vs_baseline", if (first === r) JsonNull.INSTANCE else versus(r, first))
        results.add(r)
    }
    return JsonObject().apply {
        addProperty("schema", BENCH_SCHEMA)
        addProperty("created", created)
        addProperty("duration_s", (clock() - started) / 1e9)
        add("settings", JsonObject().apply {
            add("backend", JsonNull.INSTANCE)
            addProperty("device", settings.device)
            if (settings.threads == null) add("threads", JsonNull.INSTANCE) else addProperty("threads", settings.threads)
            addProperty("warmup", settings.warmup)
            addProperty("runs", settings.runs)
            addProperty("input", settings.input)
            add("photos", JsonNull.INSTANCE)
            addProperty("peak", false)
            addProperty("schedule", "round-robin, start rotating each round")
        })
        add("machine", machine)
        add("results", results)
        add("references", JsonArray())
    }
}

/** report.validate: the keys `edgephoto bench --render` needs; the message names the first gap. */
fun validateBench(data: JsonObject): List<String> {
    val missing = mutableListOf<String>()
    if (data.str("schema") != BENCH_SCHEMA) missing.add("schema")
    for (key in listOf("settings", "machine", "results")) if (!data.has(key)) missing.add(key)
    data.getAsJsonArray("results")?.forEachIndexed { k, e ->
        val r = e.asJsonObject
        RESULT_KEYS.filter { !r.has(it) }.forEach { missing.add("results[$k].$it") }
        val lat = r.obj("latency_ms")
        LATENCY_KEYS.filter { lat == null || !lat.has(it) }.forEach { missing.add("results[$k].latency_ms.$it") }
    }
    return missing
}

fun toJsonText(data: JsonObject): String = GsonBuilder().setPrettyPrinting().serializeNulls().create().toJson(data) + "\n"
