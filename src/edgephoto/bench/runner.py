"""Measure artifacts: cold load in a fresh process each, then timed runs interleaved across them.

Every artifact lives in its own child process (a fresh `python -m edgephoto.bench.child`), so its load is a real
cold start (engine import + model load + first run) and its peak RSS is its own. The children
load one after the other (loads never compete for the cores), warm up, then wait; the parent
asks them (JSON lines over pipes) for one timed run at a time in the round-robin order of `stats.interleaved_schedule`,
so machine noise hits every artifact alike. Each child times its own run (perf_counter around
`backend.run`), so the pipe round trip is not in the numbers. Next to wall time, each run's
process CPU time is recorded: on a loaded machine the wall median grows with the load, the CPU
time much less (with one engine thread it approximates the uncontended latency).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edgephoto import manifest as manifest_io
from edgephoto.bench import stats
from edgephoto.bench.child import prepare_feeds as prepare_feeds  # re-exported: tests feed it
from edgephoto.bench.work import rate
from edgephoto.bench.worker import Worker
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
    peak: bool = True  # measure this machine's fp32/int8 peak in the same run (bench/peak.py)

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


def _worker(artifact: Path, settings: BenchSettings) -> Worker:
    """An artifact's own child process (`python -m edgephoto.bench.child`)."""
    return Worker(str(artifact), [sys.executable, "-m", "edgephoto.bench.child", str(artifact),
                                  json.dumps(asdict(settings))])


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
    from edgephoto.runtime.backends import backend_for_target

    label = f"{manifest.get('model', '?')} {manifest.get('target', '?')}-{manifest.get('precision', '?')}"
    if backend and backend != backend_for_target(str(manifest.get("target"))):
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
        result["vs_baseline"] = stats.versus(result, base)


def _work(path: Path, manifest: dict[str, Any], say: Progress) -> dict[str, Any] | None:
    """The artifact's MACs/FLOPs, or None (said) when no ONNX graph of it can be read."""
    from edgephoto.bench.work import artifact_work

    try:
        return artifact_work(path, manifest)
    except ImportError:
        say("work not counted: the onnx package is not installed (pip install onnx)")
    except EdgePhotoError as exc:
        say(f"work not counted: {exc}")
    return None


def _peer_runs(inspected: list[dict[str, Any]], settings: BenchSettings, peers: list[str],
               folder: Path) -> tuple[list[Any], list[dict[str, Any]]]:
    """The peers of the artifacts' models, fed the artifact's own photos at its input size."""
    from edgephoto.bench import peer_runs
    from edgephoto.bench.child import _image_input, _pixels

    inputs: dict[str, list[Path]] = {}
    for info in inspected:
        manifest = info["manifest"]
        model = str(manifest.get("model"))
        if model not in inputs:
            _, hw = _image_input(manifest)
            pixels = _pixels(settings.input, settings.photos, hw, 4)
            inputs[model] = peer_runs.write_inputs(pixels, folder, f"{model}-{len(inputs)}")
    return peer_runs.plan(list(inputs), "model", peers or None, inputs, threads=settings.threads,
                          warmup=settings.warmup)


def benchmark(artifacts: Sequence[str | Path], settings: BenchSettings | None = None, *,
              progress: Progress | None = None, peers: list[str] | None = None) -> dict[str, Any]:
    """Benchmark artifact directories; returns the JSON-ready results (schema SCHEMA).

    `peers`: None = no peers; [] = every peer that runs these models (bench/peers.py); names =
    those. Peers are interleaved with the artifacts; one that cannot run is reported, not measured."""
    from edgephoto.runtime.devices import probe

    settings = settings or BenchSettings()
    settings.check()
    say = progress or (lambda message: None)
    paths = [Path(a) for a in artifacts]
    if not paths:
        raise InvalidOptionError("no artifact directories given")
    inspected = [_inspect(p) for p in paths]
    works = [_work(p, info["manifest"], say) for p, info in zip(paths, inspected, strict=True)]
    folder = Path(tempfile.mkdtemp(prefix="edgephoto-bench-"))
    runs, peer_status = _peer_runs(inspected, settings, peers, folder) if peers is not None else ([], [])
    for status in peer_status:
        say(status["message"])
    starts = [lambda p=p: _worker(p, settings) for p in paths] + [run.worker for run in runs]
    names = [str(p) for p in paths] + [run.label for run in runs]
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    workers: list[Worker] = []
    ready: list[dict[str, Any]] = []
    samples: list[list[float]] = [[] for _ in starts]
    cpu_samples: list[list[float]] = [[] for _ in starts]
    finals: list[dict[str, Any]] = []
    started = time.time()
    try:
        for k, start in enumerate(starts):  # one load at a time: loads never share the cores
            say(f"loading {k + 1}/{len(starts)}: {names[k]}")
            workers.append(start())
            ready.append(workers[-1].receive("ready"))
        schedule = stats.interleaved_schedule(len(starts), settings.runs)
        every = max(1, len(schedule) // 10)  # about ten updates (a CI log gets ten lines)
        for step, index in enumerate(schedule):
            workers[index].send("run")
            wall, cpu = workers[index].receive("ms")
            samples[index].append(float(wall))
            cpu_samples[index].append(float(cpu))
            if step % every == 0 or step == len(schedule) - 1:
                say(f"timed run {step + 1}/{len(schedule)} (interleaved over {len(starts)} contenders)")
        peak = None
        if settings.peak:  # while the children idle: same machine state as the timed runs
            from edgephoto.bench.peak import measure_peak

            say("measuring this machine's peak (fp32 sgemm, int8 GEMM)")
            peak = measure_peak(settings.threads)
        for worker in workers:
            worker.send("stop")
            finals.append(worker.receive("done"))
    finally:
        for worker in workers:
            worker.stop()
        shutil.rmtree(folder, ignore_errors=True)
    taken: set[str] = set()
    n_art = len(paths)
    results = []
    for path, info, child, final, times, cpu_times, work in zip(paths, inspected, ready[:n_art], finals[:n_art],
                                                                samples[:n_art], cpu_samples[:n_art], works,
                                                                strict=True):
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
            "work": rate(work, manifest.get("precision"), summary["median"], peak,
                         stats.median(cpu_times)),
            "samples_ms": times,
            "cpu_samples_ms": cpu_times,
        })
    n = len(paths)
    for run, child, final, times, cpu_times in zip(runs, ready[n:], finals[n:], samples[n:], cpu_samples[n:],
                                                   strict=True):
        results.append(run.result(child, final, times, cpu_times))
    compare(results)
    if runs:
        from edgephoto.bench.peer_runs import attach_versus

        attach_versus(results)
    return {
        "schema": SCHEMA,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "duration_s": time.time() - started,
        "settings": {**asdict(settings), "schedule": "round-robin, start rotating each round"},
        "machine": {**probe(), "peak": peak,
                    "load_average": {"before": load_before, "after": os.getloadavg() if load_before else None}},
        "results": results,
        "references": [],
        "peers": peer_status,
    }
