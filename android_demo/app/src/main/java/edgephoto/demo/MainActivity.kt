package edgephoto.demo

import android.content.Intent
import android.graphics.Bitmap
import android.net.Uri
import android.os.Bundle
import android.os.Handler
import android.os.Looper
import android.view.LayoutInflater
import android.widget.ArrayAdapter
import android.widget.Button
import android.widget.ImageView
import android.widget.LinearLayout
import android.widget.Spinner
import android.widget.TextView
import androidx.activity.ComponentActivity
import androidx.activity.result.PickVisualMediaRequest
import androidx.activity.result.contract.ActivityResultContracts
import androidx.core.content.FileProvider
import edgephoto.core.EdgePhotoException
import java.io.File
import java.util.concurrent.Executors

/** Pick or take a photo, run every bundled model on it, show each step with its time. */
class MainActivity : ComponentActivity() {
    private val worker = Executors.newSingleThreadExecutor()
    private val ui = Handler(Looper.getMainLooper())
    private lateinit var results: LinearLayout
    private lateinit var status: TextView
    private lateinit var accelerator: Spinner
    private var cameraUri: Uri? = null

    private val pick = registerForActivityResult(ActivityResultContracts.PickVisualMedia()) { uri -> uri?.let(::process) }
    private val camera = registerForActivityResult(ActivityResultContracts.TakePicture()) { saved ->
        if (saved) cameraUri?.let(::process)
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        results = findViewById(R.id.results)
        status = findViewById(R.id.status)
        accelerator = findViewById(R.id.accelerator)
        accelerator.adapter = ArrayAdapter(this, android.R.layout.simple_spinner_dropdown_item, Accelerator.entries.map { it.label })
        findViewById<Button>(R.id.pick_photo).setOnClickListener {
            pick.launch(PickVisualMediaRequest(ActivityResultContracts.PickVisualMedia.ImageOnly))
        }
        findViewById<Button>(R.id.take_photo).setOnClickListener {
            val file = File(cacheDir, "camera/capture.jpg").apply { parentFile?.mkdirs() }
            val uri = FileProvider.getUriForFile(this, "$packageName.files", file)
            cameraUri = uri
            camera.launch(uri)
        }
        findViewById<Button>(R.id.open_benchmark).setOnClickListener {
            startActivity(Intent(this, BenchmarkActivity::class.java))
        }
    }

    private fun process(uri: Uri) {
        results.removeAllViews()
        status.setText(R.string.status_running)
        val chosen = Accelerator.entries[accelerator.selectedItemPosition]
        worker.execute {
            try {
                val t0 = System.nanoTime()
                val bitmap = Photos.decode(contentResolver, uri)
                val rgb = Photos.toRgb8(bitmap)
                show(StepResult("decode", (System.nanoTime() - t0) / 1e6, "${rgb.width}x${rgb.height}, EXIF orientation applied", bitmap))
                val artifacts = Artifacts.load(this)
                if (artifacts.isEmpty()) throw EdgePhotoException(getString(R.string.no_artifacts))
                val steps = Steps(artifacts, chosen).run(rgb, ::show)
                val total = steps.sumOf { it.ms }
                ui.post { status.text = getString(R.string.status_done, total) }
            } catch (exc: Exception) { // one line for the user, as the CLI maps errors to one message
                ui.post { status.text = getString(R.string.status_failed, exc.message ?: exc.javaClass.simpleName) }
            }
        }
    }

    private fun show(step: StepResult) = ui.post {
        val row = LayoutInflater.from(this).inflate(R.layout.item_result, results, false)
        row.findViewById<TextView>(R.id.step_title).text = getString(R.string.step_time, step.step, step.ms)
        row.findViewById<TextView>(R.id.step_detail).text = step.detail
        val image = row.findViewById<ImageView>(R.id.step_image)
        val shown: Bitmap? = step.image
        if (shown != null) image.setImageBitmap(shown) else image.visibility = android.view.View.GONE
        results.addView(row)
    }

    override fun onDestroy() {
        worker.shutdownNow()
        super.onDestroy()
    }
}
