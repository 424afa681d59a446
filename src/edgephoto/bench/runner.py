"""Measure artifacts: cold load in a fresh process each, then timed runs interleaved across them.

Every artifact lives in its own child process (a fresh `python -m edgephoto.bench.runner`), so its load is a real
cold start (engine import + model load + first run) and its peak RSS is its own. The children
load one after the other (loads never compete for the cores), warm up, then wait; the parent
asks them (JSON lines over pipes) for one timed run at a time in the round-robin order of `stats.interleaved_schedule`,
so machine noise hits every artifact alike. Each child times its own run (perf_counter around
`backend.run`), so the pipe round trip is not in the numbers. Next to wall time, each run's
process CPU time is recorded: on a loaded machine the wall median grows with the load, the CPU
time much less (with one engine thread it approximates the uncontended latency).
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgephoto import errors
from edgephoto import manifest as manifest_io
from edgephoto.bench import stats
from edgephoto.errors import EdgePhotoError, InvalidOptionError

SCHEMA = "edgephoto.bench/1"
INPUT_MODES = ("real", "random")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BenchSettings:
    """How to measure. `backend=None` runs each artifact on its target's default backend."""

    backend: str | None = None
    device: str = "auto"
    threads: int | None = None
    warmup: int = 5
    runs: int = 50
    input: str = "real"
    photos: str | None = None  # directory of photos for input='real' (default: built-in)

    def check(self) -> None:
        if self.input not in INPUT_MODES:
            raise InvalidOptionError(f"--input must be one of {', '.join(INPUT_MODES)}, got '{self.input}'")
        if self.warmup < 0:
            raise InvalidOptionError(f"--warmup must be 0 or more, got {self.warmup}")
        if self.runs < 1:
            raise InvalidOptionError(f"--runs must be at least 1, got {self.runs}")
        if self.threads is not None and self.threads < 1:
            raise InvalidOptionError(f"--threads must be at least 1, got {self.threads}")
        from edgephoto.runtime.backends import BACKENDS
        from edgephoto.runtime.backends.base import check_device

        check_device(self.device)  # refused here, before any process starts
        if self.backend is not None:
            BACKENDS.get(self.backend)


def _peak_rss_mb() -> float:
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes vs KiB


# ---------------------------------------------------------------- inputs


def _image_input(manifest: dict[str, Any]) -> tuple[Any, tuple[int, int]]:
    """The manifest's first input as a TensorSpec and its (height, width); dynamic sizes take
    the tile size, as the runtime feeds them."""
    from edgephoto.zoo.spec import Normalization, TensorSpec

    entry = manifest["inputs"][0]
    norm = entry.get("normalization")
    layout = entry.get("layout", "NHWC")
    shape = tuple(None if d is None or d < 0 else int(d) for d in entry["shape"])
    if len(shape) != 4:
        raise InvalidOptionError(f"{manifest.get('model')}: input '{entry['name']}' is not an image "
                                 f"tensor (shape {list(shape)}); use --input random")
    h, w = (shape[1], shape[2]) if layout == "NHWC" else (shape[2], shape[3])
    tile = int((manifest.get("tile") or {}).get("tile") or 128)
    tensor = TensorSpec(
        name=str(entry["name"]), shape=shape, dtype=str(entry.get("dtype", "float32")), layout=layout,
        normalization=Normalization(tuple(norm["mean"]), tuple(norm["std"]), norm.get("color", "RGB"))
        if norm else None,
    )
    return tensor, (h or tile, w or tile)


def _pixels(mode: str, photos: str | None, hw: tuple[int, int], count: int) -> list[np.ndarray]:
    """`count` RGB uint8 images of size hw: real photos resized (cycled), or uniform noise."""
    if mode == "random":
        rng = np.random.default_rng(0)
        return [rng.integers(0, 256, (*hw, 3), dtype=np.uint8) for _ in range(count)]
    from PIL import Image

    from edgephoto.quantize.calibration import builtin_photos_dir, list_photos
    from edgephoto.runtime.image_io import read_photo

    directory = Path(photos) if photos else builtin_photos_dir()
    paths = list_photos(directory)[:count]
    if not paths:
        raise errors.InputFileError(directory, "no photos (.jpg, .png, ...) to benchmark with")
    out = []
    for path in paths:
        rgb = read_photo(path).composited()
        image = Image.fromarray(rgb).resize((hw[1], hw[0]), Image.Resampling.BICUBIC)
        out.append(np.asarray(image.convert("RGB")))
    return out


def prepare_feeds(backend: Any, manifest: dict[str, Any], mode: str, photos: str | None,
                  count: int = 4) -> list[dict[str, np.ndarray]]:
    """Feeds for the engine: photos (or noise) pre-processed by the manifest's normalisation at
    the model's input size; any further engine input gets zeros of its own shape and dtype."""
    from edgephoto.quantize.calibration import to_model_input

    tensor, hw = _image_input(manifest)
    engine = backend.inputs()
    image_name = next((t.name for t in engine if t.name == tensor.name), engine[0].name)
    feeds = []
    for pixels in _pixels(mode, photos, hw, count):
        feed = {image_name: to_model_input(pixels, tensor)}
        for t in engine:
            if t.name != image_name:
                feed[t.name] = np.zeros([d or 1 for d in t.shape], np.dtype(t.dtype))
        feeds.append(feed)
    return feeds


# ---------------------------------------------------------------- the child process


def _child_main(artifact: str, settings: dict[str, Any], reply: Callable[[str, Any], None],
                commands: Any) -> None:
    """Body of one artifact's process: load, warm up, then time one run per 'run' line."""
    from edgephoto.runtime.artifact import default_backend, load_artifact
    from edgephoto.runtime.backends import BACKENDS

    base_rss = _peak_rss_mb()
    manifest = manifest_io.read_manifest(Path(artifact))
    name = settings["backend"] or default_backend(manifest)
    start = time.perf_counter()
    try:
        importlib.import_module(BACKENDS.get(name).engine_module)
    except ImportError:
        pass  # the backend raises MissingExtraError itself, naming the extra
    import_ms = (time.perf_counter() - start) * 1e3
    options = {"threads": settings["threads"]} if settings["threads"] else {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        backend, manifest = load_artifact(artifact, backend=name, device=settings["device"],
                                          verify=False, **options)
        load_ms = (time.perf_counter() - start) * 1e3
    feeds = prepare_feeds(backend, manifest, settings["input"], settings["photos"])
    start = time.perf_counter()
    backend.run(feeds[0])
    first_ms = (time.perf_counter() - start) * 1e3
    for k in range(settings["warmup"]):
        backend.run(feeds[k % len(feeds)])
    reply("ready", {
        "backend": backend.describe(),
        "warnings": [str(w.message) for w in caught],
        "base_rss_mb": base_rss,
        "load": {"import_ms": import_ms, "load_ms": load_ms, "first_run_ms": first_ms,
                 "cold_start_ms": import_ms + load_ms + first_ms},
        "feed": {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in feeds[0].items()},
    })
    done = 0
    for line in commands:
        if line.strip() != "run":
            break
        feed = feeds[done % len(feeds)]
        cpu, start = time.process_time(), time.perf_counter()
        backend.run(feed)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        reply("ms", [wall * 1e3, cpu * 1e3])
        done += 1
    backend.close()
    reply("done", {"peak_rss_mb": _peak_rss_mb()})


def child(artifact: str, settings_json: str) -> None:
    """Entry of `python -m edgephoto.bench.runner ARTIFACT SETTINGS_JSON` (started by _Worker).

    Replies are JSON lines on the original stdout; fd 1 is pointed at stderr first, so an
    engine printing to stdout cannot corrupt the protocol.
    """
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)

    def reply(kind: str, payload: Any) -> None:
        out.write(json.dumps([kind, payload], default=str) + "\n")

    try:
        _child_main(artifact, json.loads(settings_json), reply, sys.stdin)
    except EdgePhotoError as exc:
        reply("error", [type(exc).__name__, str(exc)])
    except Exception as exc:  # an engine's own failure: reported to the parent, not a traceback
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        reply("error", ["EdgePhotoError", f"{artifact}: {type(exc).__name__}: {first}"])


def _rebuild(kind: str, message: str) -> EdgePhotoError:
    """The child's error as the same class (so the same exit code), carrying its message."""
    cls = getattr(errors, kind, EdgePhotoError)
    if not (isinstance(cls, type) and issubclass(cls, EdgePhotoError)):
        cls = EdgePhotoError
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    return error


class _Worker:
    """Parent side of one child process (a fresh interpreter: a real cold start)."""

    def __init__(self, artifact: Path, settings: BenchSettings) -> None:
        self.artifact = artifact
        self.log = tempfile.TemporaryFile(mode="w+")  # engine chatter; its tail explains a crash
        self.process = subprocess.Popen(
            [sys.executable, "-m", "edgephoto.bench.runner", str(artifact), json.dumps(asdict(settings))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True, bufsize=1,
        )

    def send(self, command: str) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(command + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            raise self._died() from None

    def _died(self) -> EdgePhotoError:
        self.process.wait(timeout=10)
        self.log.seek(0)
        tail = [line.strip() for line in self.log.read().splitlines() if line.strip()][-1:]
        why = f": {tail[0][:300]}" if tail else ""
        return EdgePhotoError(f"{self.artifact}: benchmark process died "
                              f"(exit code {self.process.returncode}){why}")

    def receive(self, expected: str) -> Any:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise self._died()
        kind, payload = json.loads(line)
        if kind == "error":
            raise _rebuild(*payload)
        if kind != expected:
            raise EdgePhotoError(f"{self.artifact}: expected '{expected}' from the benchmark process, got '{kind}'")
        return payload

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(timeout=10)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        self.log.close()


# ---------------------------------------------------------------- the parent


def _inspect(artifact: Path) -> dict[str, Any]:
    """Manifest and sha256 check in the parent: a bad artifact fails before anything starts."""
    manifest = manifest_io.read_manifest(artifact)
    start = time.perf_counter()
    manifest_io.verify(artifact, manifest)
    verify_ms = (time.perf_counter() - start) * 1e3
    return {"manifest": manifest, "verify_ms": verify_ms,
            "size_bytes": sum(int(e.get("bytes", 0)) for e in manifest.get("files", []))}


def quality(manifest: dict[str, Any]) -> dict[str, Any]:
    """The parity and accuracy numbers the converter/quantizer wrote, condensed for a table."""
    out: dict[str, Any] = {}
    parity = manifest.get("parity") or {}
    per_output = [v for v in (parity.get("outputs") or {}).values() if isinstance(v, dict)]
    if per_output:
        out["parity_metric"] = parity.get("metric")
        metrics = [v["metric"] for v in per_output if isinstance(v.get("metric"), int | float)]
        out["parity_value"] = min(metrics) if metrics else None  # worst output (psnr/iou: higher is better)
        out["parity_max_abs"] = max(float(v.get("max_abs") or 0.0) for v in per_output)
    accuracy = manifest.get("accuracy") or {}
    if "drop" in accuracy:
        out["accuracy_metric"] = (accuracy.get("limit") or {}).get("metric")
        out["accuracy_drop"] = accuracy["drop"]
        out["accuracy_unit"] = (accuracy.get("limit") or {}).get("unit", "")
    return out


def _label(manifest: dict[str, Any], backend: str, taken: set[str]) -> str:
    label = f"{manifest.get('model', '?')} {manifest.get('target', '?')}-{manifest.get('precision', '?')}"
    if backend and backend != {"onnx": "onnxruntime", "tflite": "litert", "openvino": "openvino",
                               "coreml": "coreml"}.get(str(manifest.get("target"))):
        label += f" @{backend}"
    base, k = label, 2
    while label in taken:
        label, k = f"{base} #{k}", k + 1
    taken.add(label)
    return label


def compare(results: list[dict[str, Any]]) -> None:
    """Per model, ratios of every later artifact against the first one given (the baseline)."""
    first: dict[str, dict[str, Any]] = {}
    for result in results:
        base = first.setdefault(result["model"], result)
        if base is result:
            result["vs_baseline"] = None
            continue
        lat, blat = result["latency_ms"], base["latency_ms"]
        result["vs_baseline"] = {
            "baseline": base["label"],
            "speedup_median": stats.ratio(blat["median"], lat["median"]),
            "median_ratio": stats.ratio(lat["median"], blat["median"]),
            "p90_ratio": stats.ratio(lat["p90"], blat["p90"]),
            "size_ratio": stats.ratio(result["size_bytes"], base["size_bytes"]),
            "peak_rss_ratio": stats.ratio(result["peak_rss_mb"], base["peak_rss_mb"]),
            "cold_start_ratio": stats.ratio(result["load"]["cold_start_ms"], base["load"]["cold_start_ms"]),
        }


def benchmark(artifacts: Sequence[str | Path], settings: BenchSettings | None = None, *,
              progress: Progress | None = None) -> dict[str, Any]:
    """Benchmark artifact directories; returns the JSON-ready results (schema SCHEMA)."""
    from edgephoto.runtime.devices import probe

    settings = settings or BenchSettings()
    settings.check()
    say = progress or (lambda message: None)
    paths = [Path(a) for a in artifacts]
    if not paths:
        raise InvalidOptionError("no artifact directories given")
    inspected = [_inspect(p) for p in paths]
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    workers: list[_Worker] = []
    ready: list[dict[str, Any]] = []
    samples: list[list[float]] = [[] for _ in paths]
    cpu_samples: list[list[float]] = [[] for _ in paths]
    finals: list[dict[str, Any]] = []
    started = time.time()
    try:
        for k, path in enumerate(paths):  # one load at a time: loads never share the cores
            say(f"loading {k + 1}/{len(paths)}: {path}")
            workers.append(_Worker(path, settings))
            ready.append(workers[-1].receive("ready"))
        schedule = stats.interleaved_schedule(len(paths), settings.runs)
        every = max(1, len(schedule) // 10)  # about ten updates (a CI log gets ten lines)
        for step, index in enumerate(schedule):
            workers[index].send("run")
            wall, cpu = workers[index].receive("ms")
            samples[index].append(float(wall))
            cpu_samples[index].append(float(cpu))
            if step % every == 0 or step == len(schedule) - 1:
                say(f"timed run {step + 1}/{len(schedule)} (interleaved over {len(paths)} artifacts)")
        for worker in workers:
            worker.send("stop")
            finals.append(worker.receive("done"))
    finally:
        for worker in workers:
            worker.stop()
    taken: set[str] = set()
    results = []
    for path, info, child, final, times, cpu_times in zip(paths, inspected, ready, finals, samples,
                                                          cpu_samples, strict=True):
        manifest = info["manifest"]
        summary = stats.summarize(times)
        results.append({
            "label": _label(manifest, child["backend"].get("backend", ""), taken),
            "artifact": str(path),
            "model": manifest.get("model"),
            "task": manifest.get("task"),
            "target": manifest.get("target"),
            "precision": manifest.get("precision"),
            "size_bytes": info["size_bytes"],
            "backend": child["backend"],
            "warnings": child["warnings"],
            "feed": child["feed"],
            "load": {"verify_ms": info["verify_ms"], **child["load"]},
            "latency_ms": summary,
            "cpu_ms": stats.summarize(cpu_times),
            "throughput_per_s": 1000.0 / summary["mean"] if summary["mean"] else None,
            "peak_rss_mb": final["peak_rss_mb"],
            "base_rss_mb": child["base_rss_mb"],
            "quality": quality(manifest),
            "samples_ms": times,
            "cpu_samples_ms": cpu_times,
        })
    compare(results)
    return {
        "schema": SCHEMA,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "duration_s": time.time() - started,
        "settings": {**asdict(settings), "schedule": "round-robin, start rotating each round"},
        "machine": {**probe(), "load_average": {"before": load_before,
                                                "after": os.getloadavg() if load_before else None}},
        "results": results,
        "references": [],
    }


if __name__ == "__main__":
    child(sys.argv[1], sys.argv[2])
