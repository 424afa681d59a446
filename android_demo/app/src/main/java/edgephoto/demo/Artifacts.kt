package edgephoto.demo

import android.content.Context
import edgephoto.core.InputFileException
import edgephoto.core.Manifest
import edgephoto.core.verify
import java.io.File
import java.io.FileInputStream
import java.nio.MappedByteBuffer
import java.nio.channels.FileChannel

/**
 * The artifacts `edgephoto convert` wrote, bundled as assets/artifacts/<model>/<target-precision>/
 * (manifest.json + model file). On first use each is copied to the app's files and re-hashed
 * against its manifest (core's verify, as the Python runtime does), then memory-mapped.
 */
data class Artifact(val dir: File, val manifest: Manifest) {
    val label: String get() = "${manifest.model} ${manifest.target}-${manifest.precision}"

    fun map(): MappedByteBuffer {
        val path = manifest.modelFile(".tflite") ?: throw InputFileException(dir.path, "no .tflite listed in the manifest")
        FileInputStream(File(dir, path)).use { stream ->
            return stream.channel.map(FileChannel.MapMode.READ_ONLY, 0, stream.channel.size())
        }
    }
}

object Artifacts {
    private const val ROOT = "artifacts"

    /** Every bundled tflite artifact, verified; the task name picks one per step. */
    fun load(context: Context): List<Artifact> {
        val assets = context.assets
        val out = mutableListOf<Artifact>()
        for (model in assets.list(ROOT).orEmpty()) {
            for (variant in assets.list("$ROOT/$model").orEmpty()) {
                val base = "$ROOT/$model/$variant"
                val names = assets.list(base).orEmpty()
                if ("manifest.json" !in names) continue
                val manifest = Manifest.parse(assets.open("$base/manifest.json").bufferedReader().readText(), "$base/manifest.json")
                if (manifest.target != "tflite") continue
                val dir = File(context.filesDir, base)
                for (entry in manifest.files) {
                    val target = File(dir, entry.path)
                    if (target.isFile && target.length() == entry.bytes) continue
                    target.parentFile?.mkdirs()
                    val temp = File(target.path + ".part")
                    assets.open("$base/${entry.path}").use { input -> temp.outputStream().use { input.copyTo(it) } }
                    if (!temp.renameTo(target)) throw InputFileException(target.path, "could not move the copied file into place")
                }
                verify(dir, manifest)
                out.add(Artifact(dir, manifest))
            }
        }
        return out
    }

    fun forTask(artifacts: List<Artifact>, task: String): Artifact? = artifacts.firstOrNull { it.manifest.task == task }
}
