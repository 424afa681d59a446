package edgephoto.demo

import android.content.Intent
import android.graphics.BitmapFactory
import android.os.Build
import android.os.Bundle
import android.os.Handler
import android.os.Looper
import android.widget.Button
import android.widget.EditText
import android.widget.TextView
import androidx.activity.ComponentActivity
import androidx.core.content.FileProvider
import com.google.gson.JsonArray
import com.google.gson.JsonObject
import edgephoto.core.BenchItem
import edgephoto.core.BenchSettings
import edgephoto.core.benchmark
import edgephoto.core.fitToInput
import edgephoto.core.runModel
import edgephoto.core.toJsonText
import java.io.File
import java.text.SimpleDateFormat
import java.util.Date
import java.util.Locale
import java.util.TimeZone
import java.util.concurrent.Executors

/**
 * Every bundled artifact on every accelerator (CPU/XNNPACK, GPU, NNAPI), interleaved runs, written
 * as `edgephoto bench` JSON (schema edgephoto.bench/1) so `edgephoto bench --render` draws the
 * phone's numbers beside the desktop's. One engine call per run, on the sample photo fitted to
 * the model input, as bench's 'real' input mode feeds it.
 */
class BenchmarkActivity : ComponentActivity() {
    private val worker = Executors.newSingleThreadExecutor()
    private val ui = Handler(Looper.getMainLooper())
    private lateinit var status: TextView
    private var written: File? = null

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_benchmark)
        status = findViewById(R.id.bench_status)
        val runs = findViewById<EditText>(R.id.bench_runs)
        val warmup = findViewById<EditText>(R.id.bench_warmup)
        findViewById<Button>(R.id.bench_start).setOnClickListener {
            val settings = BenchSettings(warmup = warmup.text.toString().toIntOrNull() ?: 5, runs = runs.text.toString().toIntOrNull() ?: 50)
            status.setText(R.string.status_running)
            worker.execute { measure(settings) }
        }
        findViewById<Button>(R.id.bench_share).setOnClickListener {
            val file = written ?: return@setOnClickListener
            val uri = FileProvider.getUriForFile(this, "$packageName.files", file)
            val send = Intent(Intent.ACTION_SEND).setType("application/json").putExtra(Intent.EXTRA_STREAM, uri)
                .addFlags(Intent.FLAG_GRANT_READ_URI_PERMISSION)
            startActivity(Intent.createChooser(send, getString(R.string.bench_share)))
        }
    }

    private fun measure(settings: BenchSettings) {
        val opened = mutableListOf<BenchItem>()
        try {
            val photo = Photos.toRgb8(assets.open(SAMPLE).use { BitmapFactory.decodeStream(it) })
            for (artifact in Artifacts.load(this)) {
                for (accelerator in listOf(Accelerator.CPU, Accelerator.GPU, Accelerator.NNAPI)) {
                    val facts = artifact.manifest.facts
                    val t0 = System.nanoTime()
                    val verifyMs = 0.0 // Artifacts.load re-hashed every file before this
                    val runner = LiteRtRunner(artifact.map(), accelerator)
                    val loadMs = (System.nanoTime() - t0) / 1e6
                    if (runner.info.fallback != null && accelerator != Accelerator.CPU) {
                        runner.close() // a fallback would only measure the CPU twice; said in the status instead
                        post("${artifact.label} ${accelerator.label}: ${runner.info.fallback}")
                        continue
                    }
                    val (h, w) = facts.input.hw
                    val (fitted, _) = fitToInput(photo, h ?: facts.tile, w ?: facts.tile, "stretch")
                    val t1 = System.nanoTime()
                    runModel(runner, facts, listOf(fitted))
                    val firstMs = (System.nanoTime() - t1) / 1e6
                    val load = JsonObject().apply {
                        addProperty("verify_ms", verifyMs)
                        addProperty("load_ms", loadMs)
                        addProperty("first_run_ms", firstMs)
                        addProperty("cold_start_ms", loadMs + firstMs)
                    }
                    val feed = JsonObject().apply {
                        add("input", JsonObject().apply {
                            add("shape", JsonArray().apply { listOf(1, fitted.height, fitted.width, facts.input.channels ?: 3).forEach(::add) })
                            addProperty("dtype", facts.input.dtype)
                        })
                    }
                    opened.add(BenchItem(artifact.dir.path, artifact.manifest, runner, load, feed) { runModel(runner, facts, listOf(fitted)) })
                }
            }
            val created = SimpleDateFormat("yyyy-MM-dd'T'HH:mm:ss'Z'", Locale.ROOT).apply { timeZone = TimeZone.getTimeZone("UTC") }.format(Date())
            val data = benchmark(
                opened, settings, machine(), created,
                cpuClock = { android.os.Process.getElapsedCpuTime() * 1_000_000L },
                peakRssMb = ::peakRssMb,
                progress = { done, total -> if (done % 10 == 0) post(getString(R.string.bench_progress, done, total)) },
            )
            val dir = getExternalFilesDir("bench") ?: filesDir
            val file = File(dir, "android_bench_${created.replace(":", "")}.json")
            file.writeText(toJsonText(data))
            written = file
            val lines = data.getAsJsonArray("results").joinToString("\n") {
                val r = it.asJsonObject
                "%s: median %.2f ms".format(r.get("label").asString, r.getAsJsonObject("latency_ms").get("median").asDouble)
            }
            post(getString(R.string.bench_done, file.path) + "\n" + lines)
        } catch (exc: Exception) {
            post(getString(R.string.status_failed, exc.message ?: exc.javaClass.simpleName))
        } finally {
            opened.forEach { it.runner.close() }
        }
    }

    private fun post(text: String) = ui.post { status.text = text }

    /** VmHWM of /proc/self/status: the process's peak resident memory. */
    private fun peakRssMb(): Double? = File("/proc/self/status").readLines()
        .firstOrNull { it.startsWith("VmHWM:") }?.split(Regex("\\s+"))?.getOrNull(1)?.toDoubleOrNull()?.div(1024.0)

    private fun machine(): JsonObject = JsonObject().apply {
        add("platform", JsonObject().apply {
            addProperty("system", "android")
            addProperty("release", Build.VERSION.RELEASE)
            addProperty("api", Build.VERSION.SDK_INT)
            addProperty("machine", Build.SUPPORTED_ABIS.firstOrNull())
            addProperty("device", "${Build.MANUFACTURER} ${Build.MODEL}")
            addProperty("soc", if (Build.VERSION.SDK_INT >= 31) Build.SOC_MODEL else null)
        })
        add("cpu", JsonObject().apply {
            addProperty("arch", Build.SUPPORTED_ABIS.firstOrNull())
            addProperty("cores", Runtime.getRuntime().availableProcessors())
        })
        add("engines", JsonObject().apply {
            add("litert", JsonObject().apply {
                addProperty("engine", "litert")
                addProperty("usable", true)
                add("accelerators", JsonArray().apply { add("xnnpack"); add("gpu delegate"); add("nnapi delegate") })
            })
        })
        add("peak", null)
    }

    override fun onDestroy() {
        worker.shutdownNow()
        super.onDestroy()
    }

    companion object {
        const val SAMPLE = "samples/astronaut.jpg"
    }
}
