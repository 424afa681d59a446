"""A peer tool's benchmark child: `PYTHON peer_child.py PEER SETTINGS_JSON`, bench protocol.

Run by path with the peer's own interpreter, which may be a venv without edgephoto (MediaPipe):
this file needs only the standard library, numpy and the tool itself at import; the TensorFlow
peer imports edgephoto's own source runner (the parity reference) when it starts. Inputs are
.npy RGB uint8 arrays written by the parent: at the model's input size for mode 'model', whole
photos for mode 'call'. Each peer runs its input the way its own users do, timed around the
tool's call only; feeds are prepared before timing, as the artifact child does.
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and not __package__:
    del sys.path[0]  # this file's folder: its sibling modules must not shadow top-level names

import json  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

Call = Callable[[Any], Any]  # prepared input -> output array
Prepared = tuple[dict[str, Any], Callable[[np.ndarray], Any], Call]  # facts, prepare(rgb), call
RUNNERS: dict[str, Callable[[dict[str, Any]], Prepared]] = {}


def runner(name: str) -> Callable[[Callable[[dict[str, Any]], Prepared]], Callable[[dict[str, Any]], Prepared]]:
    def wrap(fn: Callable[[dict[str, Any]], Prepared]) -> Callable[[dict[str, Any]], Prepared]:
        RUNNERS[name] = fn
        return fn
    return wrap


def peak_rss_mb() -> float:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@runner("opencv")
def opencv(settings: dict[str, Any]) -> Prepared:
    """DnnSuperResImpl.upsample: BGR in and out (the RGB<->BGR copies are timed, as a caller
    holding RGB pays them). It is also mode 'model' (on the artifact's input size): OpenCV 5's
    plain cv2.dnn refuses these .pb files (DepthToSpace without blocksize), so the super-res
    call, colour conversion included, is the only way OpenCV runs them."""
    import cv2

    if settings.get("threads"):
        cv2.setNumThreads(int(settings["threads"]))
    impl = cv2.dnn_superres.DnnSuperResImpl_create()  # type: ignore[attr-defined]
    impl.readModel(settings["weights"])
    impl.setModel(settings.get("algorithm", "fsrcnn"), int(settings["scale"]))
    facts = {"engine": "opencv", "version": cv2.__version__, "threads": cv2.getNumThreads(),
             "runs": "dnn_superres upsample (whole call)"}
    return facts, lambda rgb: np.ascontiguousarray(rgb[..., ::-1]), lambda bgr: impl.upsample(bgr)[..., ::-1]


@runner("mediapipe")
def mediapipe(settings: dict[str, Any]) -> Prepared:
    """ImageSegmenter (Tasks API) with the selfie model of its own wheel: photo in, confidence
    mask out. Its only API is the whole call, so both modes time it (mode 'model' on photos at
    the artifact's input size). It has no thread option: pin the process (taskset) instead."""
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    model = Path(mp.__file__).parent / "modules" / "selfie_segmentation" / "selfie_segmentation.tflite"
    options = vision.ImageSegmenterOptions(base_options=BaseOptions(model_asset_path=str(model)),
                                           running_mode=vision.RunningMode.IMAGE,
                                           output_confidence_masks=True, output_category_mask=False)
    segmenter = vision.ImageSegmenter.create_from_options(options)
    facts = {"engine": "mediapipe", "version": mp.__version__, "threads": None, "model": str(model),
             "size_bytes": model.stat().st_size}

    def call(image: Any) -> Any:
        return np.asarray(segmenter.segment(image).confidence_masks[0].numpy_view(), np.float32)

    return facts, lambda rgb: mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb)), call


@runner("tensorflow")
def tensorflow(settings: dict[str, Any]) -> Prepared:
    """The zoo model's source file run by its own framework, fed exactly what the artifact is fed
    (runtime model_input): a Keras model (TF.js layers) as one tf.function, other formats through
    edgephoto's parity reference (convert.graph.source_runner; a frozen graph is a concrete function)."""
    import tempfile

    import tensorflow as tf

    threads = settings.get("threads")
    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(int(threads))
        tf.config.threading.set_inter_op_parallelism_threads(1)
    from edgephoto.convert.graph import ConvertContext, source_runner
    from edgephoto.runtime.tasks.common import model_input
    from edgephoto.zoo import get_model

    spec = get_model(settings["model"])
    tensor = spec.inputs[0]
    facts = {"engine": "tensorflow", "version": tf.__version__, "threads": threads,
             "source_format": spec.source_format}
    if spec.source_format == "tfjs_layers":  # a Keras model: run as TF users do, one tf.function
        from edgephoto.convert.sources.tfjs import load_layers_model

        weights = Path(settings["weights"])
        model = load_layers_model(weights / "model.json" if weights.is_dir() else weights)
        graph = tf.function(lambda x: model(x, training=False))
        facts["call"] = "tf.function(keras model)"
        return facts, lambda rgb: tf.constant(model_input(rgb, tensor)), lambda x: graph(x).numpy()
    work = Path(tempfile.mkdtemp(prefix="edgephoto-peer-tf-"))
    run = source_runner(Path(settings["weights"]), spec.source_format, ConvertContext(spec, work))
    facts["call"] = f"edgephoto's {spec.source_format} source runner (a concrete function)"
    return facts, lambda rgb: {tensor.name: model_input(rgb, tensor)}, run


def main(name: str, settings: dict[str, Any]) -> None:
    """Load, warm up, reply 'ready'; then one timed call per 'run [K]', 'keep K PATH' saves the
    output of input K (untimed), 'stop' ends."""
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # a tool printing to stdout cannot corrupt the protocol

    def reply(kind: str, payload: Any) -> None:
        out.write(json.dumps([kind, payload], default=str) + "\n")

    try:
        base_rss = peak_rss_mb()
        start = time.perf_counter()
        facts, prepare, call = RUNNERS[name](settings)
        load_ms = (time.perf_counter() - start) * 1e3
        inputs = [prepare(np.load(path)) for path in settings["inputs"]]
        start = time.perf_counter()
        call(inputs[0])
        first_ms = (time.perf_counter() - start) * 1e3
        for k in range(int(settings.get("warmup", 0))):
            call(inputs[k % len(inputs)])
        shape = list(np.load(settings["inputs"][0], mmap_mode="r").shape)
        reply("ready", {"backend": {"backend": f"peer:{name}", "device": "cpu", **facts},
                        "warnings": [], "base_rss_mb": base_rss, "feed": {"rgb": {"shape": shape, "dtype": "uint8"}},
                        "load": {"import_ms": 0.0, "load_ms": load_ms, "first_run_ms": first_ms,
                                 "cold_start_ms": load_ms + first_ms}})
        done = 0
        for line in sys.stdin:
            words = line.split()
            if not words or words[0] not in ("run", "keep"):
                break
            k = int(words[1]) if len(words) > 1 else done % len(inputs)
            if words[0] == "keep":
                np.save(words[2], np.asarray(call(inputs[k])))
                reply("kept", words[2])
                continue
            cpu, start = time.process_time(), time.perf_counter()
            call(inputs[k])
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu
            reply("ms", [wall * 1e3, cpu * 1e3])
            done += 1
        reply("done", {"peak_rss_mb": peak_rss_mb()})
    except Exception as exc:  # the tool's own failure, reported to the parent as one line
        kind = type(exc).__name__ if type(exc).__module__.startswith("edgephoto") else "EdgePhotoError"
        first = (str(exc).strip().splitlines() or [""])[0]
        reply("error", [kind, f"peer {name}: {type(exc).__name__}: {first}"[:500]])


if __name__ == "__main__":
    main(sys.argv[1], json.loads(sys.argv[2]))
