package edgephoto.demo

import android.graphics.Bitmap
import edgephoto.core.FloatImage
import edgephoto.core.Rgb8
import edgephoto.core.estimateDepth
import edgephoto.core.normalizeDepth
import edgephoto.core.segment
import edgephoto.core.upscale

/** One result screen row: what ran, on what, how long it took, what it made. */
data class StepResult(val step: String, val ms: Double, val detail: String, val image: Bitmap?)

/**
 * The demo's pipeline, the same steps as `edgephoto run` (runtime/steps.py): person mask, cut-out,
 * depth and 2x upscale, each through the core's task functions on a LiteRT runner. Every step is
 * timed on its own (model load separately: a cold start is not an inference).
 */
class Steps(private val artifacts: List<Artifact>, private val accelerator: Accelerator) {
    private fun <T> timed(block: () -> T): Pair<T, Double> {
        val t0 = System.nanoTime()
        val value = block()
        return Pair(value, (System.nanoTime() - t0) / 1e6)
    }

    private fun open(task: String, results: MutableList<StepResult>): Pair<Artifact, LiteRtRunner>? {
        val artifact = Artifacts.forTask(artifacts, task) ?: run {
            results.add(StepResult("$task (skipped)", 0.0, "no $task artifact bundled", null))
            return null
        }
        val (runner, ms) = timed { LiteRtRunner(artifact.map(), accelerator) }
        val fell = runner.info.fallback?.let { ", fell back: $it" } ?: ""
        results.add(StepResult("load ${artifact.label}", ms, "${runner.info.device} (${runner.info.accelerator})$fell", null))
        return Pair(artifact, runner)
    }

    fun run(rgb: Rgb8, onStep: (StepResult) -> Unit): List<StepResult> {
        val results = object : ArrayList<StepResult>() {
            override fun add(element: StepResult): Boolean = super.add(element).also { onStep(element) }
        }
        var mask: FloatImage? = null
        open("segmentation", results)?.let { (artifact, runner) ->
            runner.use {
                val (m, ms) = timed { segment(it, artifact.manifest.facts, rgb) }
                mask = m
                results.add(StepResult("segment", ms, "${artifact.manifest.model}: person probability", Photos.grey(m)))
            }
            val (cut, ms) = timed { Photos.cutOut(rgb, mask!!) }
            results.add(StepResult("cut-out", ms, "matte as alpha", cut))
        }
        open("depth", results)?.let { (artifact, runner) ->
            runner.use {
                val (depth, ms) = timed { estimateDepth(it, artifact.manifest.facts, rgb) }
                val shown = normalizeDepth(depth.depth)
                results.add(StepResult("depth", ms, "${artifact.manifest.model}: near = bright", Photos.grey(shown, invert = true)))
            }
        }
        open("upscale", results)?.let { (artifact, runner) ->
            runner.use {
                val (big, ms) = timed { upscale(it, artifact.manifest.facts, rgb) }
                results.add(StepResult("upscale x${artifact.manifest.facts.scale}", ms, "${big.width}x${big.height}", Photos.toBitmap(big)))
            }
        }
        return results
    }
}
