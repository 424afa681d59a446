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
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edgephoto import errors
from edgephoto import manifest as manifest_io
from edgephoto.bench import stats
from edgephoto.bench.child import prepare_feeds as prepare_feeds  # re-exported: tests feed it
from edgephoto.bench.work import rate
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
            [sys.executable, "-m", "edgephoto.bench.child", str(artifact), json.dumps(asdict(settings))],
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
    works = [_work(p, info["manifest"], say) for p, info in zip(paths, inspected, strict=True)]
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
    taken: set[str] = set()
    results = []
    for path, info, child, final, times, cpu_times, work in zip(paths, inspected, ready, finals, samples,
                                                                cpu_samples, works, strict=True):
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
    compare(results)
    return {
        "schema": SCHEMA,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "duration_s": time.time() - started,
        "settings": {**asdict(settings), "schedule": "round-robin, start rotating each round"},
        "machine": {**probe(), "peak": peak,
                    "load_average": {"before": load_before, "after": os.getloadavg() if load_before else None}},
        "results": results,
        "references": [],
    }
