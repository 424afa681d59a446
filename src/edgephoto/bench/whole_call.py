"""Whole-call benchmark: photo in, result out, through the runtime (`edgephoto.load`), with the
task's stages timed (bench/stages.py) and peers interleaved (bench/peers.py, mode 'call').

Each contender (a zoo model or artifact dir on a backend, or a peer tool) lives in its own child
process. Every round runs every photo on every contender, the contender order rotating per
photo (stats.interleaved_schedule), so machine noise lands on all alike. Results use the bench
schema (report.RESULT_KEYS) with `mode: call`, per-stage medians and per-photo medians.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from edgephoto.bench import stats
from edgephoto.bench.runner import SCHEMA, BenchSettings, compare, quality
from edgephoto.bench.worker import Worker
from edgephoto.errors import InputFileError, InvalidOptionError

Progress = Callable[[str], None]
Keep = Callable[[str, int, Path], None]  # (label, photo index, saved result .npy)


def photo_list(directory: str | Path, limit: int | None = None) -> list[Path]:
    from edgephoto.runtime.image_io import photos_in

    photos = photos_in([Path(directory)])[0]
    if not photos:
        raise InputFileError(directory, "no photos (.jpg, .png, ...) to benchmark with")
    return photos[:limit] if limit else photos


def _model_name(model: str) -> str:
    """The zoo name of a model argument (an artifact dir's manifest names it)."""
    from edgephoto import manifest as manifest_io

    path = Path(model)
    if path.exists():
        return str(manifest_io.read_manifest(path if path.is_dir() else path.parent).get("model"))
    return model


def _row(label: str, ready: dict[str, Any], final: dict[str, Any], times: list[float], cpu: list[float],
         stages: list[dict[str, float]], tiles: list[int], per_photo: dict[int, list[float]],
         per_photo_cpu: dict[int, list[float]]) -> dict[str, Any]:
    manifest = ready["manifest"]
    summary = stats.summarize(times)
    names = list(dict.fromkeys(k for s in stages for k in s))
    return {
        "label": label, "artifact": ready["path"], "mode": "call", "model": manifest.get("model"),
        "task": manifest.get("task"), "target": manifest.get("target"), "precision": manifest.get("precision"),
        "size_bytes": sum(int(e.get("bytes", 0)) for e in manifest.get("files", [])),
        "backend": ready["backend"], "warnings": ready["warnings"], "feed": ready["feed"],
        "load": {"verify_ms": 0.0, **ready["load"]}, "latency_ms": summary, "cpu_ms": stats.summarize(cpu),
        "throughput_per_s": 1000.0 / summary["mean"] if summary["mean"] else None,
        "peak_rss_mb": final["peak_rss_mb"], "base_rss_mb": ready["base_rss_mb"], "quality": quality(manifest),
        "work": None, "stages_ms": {n: stats.median([s.get(n, 0.0) for s in stages]) for n in names},
        "tiles": stats.median([float(t) for t in tiles]),
        **_per_photo(per_photo, per_photo_cpu), "samples_ms": times, "cpu_samples_ms": cpu,
    }


def _per_photo(wall: dict[int, list[float]], cpu: dict[int, list[float]]) -> dict[str, Any]:
    """Each photo's median wall and CPU ms over the rounds (keys: photo index as text)."""
    return {"per_photo_ms": {str(k): stats.median(v) for k, v in sorted(wall.items())},
            "per_photo_cpu_ms": {str(k): stats.median(v) for k, v in sorted(cpu.items())}}


def benchmark_calls(task: str, photos: Sequence[Path], models: Sequence[str], settings: BenchSettings, *,
                    backends: Sequence[str | None] = (None,), peers: list[str] | None = None,
                    progress: Progress | None = None, keep: Keep | None = None,
                    options: Sequence[dict[str, Any]] = ({},)) -> dict[str, Any]:
    """Time `task` on every photo through each model x backend (None = the runtime's choice) x
    task options (e.g. {"zoom": False} for segmentation; labelled 'key=value') and the peers;
    `settings.runs` rounds. `keep(label, k, path)` is given every contender's result
    of photo k once (after the timed rounds), for quality checks."""
    from edgephoto.bench import peer_runs
    from edgephoto.runtime.devices import probe
    from edgephoto.runtime.tasks import TASKS

    TASKS.get(task)  # unknown tasks: the nearest suggested
    settings.check()
    say = progress or (lambda message: None)
    if not photos or not models:
        raise InvalidOptionError("a whole-call benchmark needs photos and at least one model")
    folder = Path(tempfile.mkdtemp(prefix="edgephoto-calls-"))
    base = {"task": task, "photos": [str(p) for p in photos], "threads": settings.threads,
            "device": settings.device, "warmup": settings.warmup}
    ours = [(f"{m} @{b or 'auto'}" + "".join(f" {k}={v}" for k, v in o.items()),
             {**base, "model": m, "backend": b, "options": o}) for m in models for b in backends for o in options]
    runs: list[Any] = []
    status: list[dict[str, Any]] = []
    if peers is not None:
        from edgephoto.api import as_rgb

        names = [_model_name(m) for m in models]
        inputs = peer_runs.write_inputs([as_rgb(p) for p in photos], folder, "photo")
        runs, status = peer_runs.plan(names, "call", peers or None, dict.fromkeys(names, inputs),
                                      threads=settings.threads, warmup=settings.warmup)
        for s in status:
            say(s["message"])
    starts = [lambda s=s, label=label: Worker(label, [sys.executable, "-m", "edgephoto.bench.call_child",
                                                      json.dumps(s)]) for label, s in ours]
    starts += [run.worker for run in runs]
    labels = [label for label, _ in ours] + [run.label for run in runs]
    n = len(labels)
    times: list[list[float]] = [[] for _ in labels]
    cpu: list[list[float]] = [[] for _ in labels]
    stages: list[list[dict[str, float]]] = [[] for _ in labels]
    tiles: list[list[int]] = [[] for _ in labels]
    per_photo: list[dict[int, list[float]]] = [{} for _ in labels]
    per_photo_cpu: list[dict[int, list[float]]] = [{} for _ in labels]
    workers: list[Worker] = []
    ready, finals = [], []
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    started = time.time()
    try:
        for k, start in enumerate(starts):  # one load at a time
            say(f"loading {k + 1}/{n}: {labels[k]}")
            workers.append(start())
            ready.append(workers[-1].receive("ready"))
        for r in range(settings.runs):
            say(f"round {r + 1}/{settings.runs}: {len(photos)} photos x {n} contenders")
            for p in range(len(photos)):
                for index in stats.interleaved_schedule(n, r * len(photos) + p + 1)[-n:]:
                    reply = workers[index].ask(f"run {p}", "ms")
                    times[index].append(float(reply[0]))
                    cpu[index].append(float(reply[1]))
                    per_photo[index].setdefault(p, []).append(float(reply[0]))
                    per_photo_cpu[index].setdefault(p, []).append(float(reply[1]))
                    if len(reply) > 2:
                        stages[index].append(reply[2])
                        tiles[index].append(int(reply[3]))
        if keep is not None:
            for p in range(len(photos)):
                for index, worker in enumerate(workers):
                    path = folder / f"out-{index}-{p}.npy"
                    worker.ask(f"keep {p} {path}", "kept")
                    keep(labels[index], p, path)
                    path.unlink(missing_ok=True)
        for worker in workers:
            finals.append(worker.ask("stop", "done"))
    finally:
        for worker in workers:
            worker.stop()
        shutil.rmtree(folder, ignore_errors=True)
    results = [_row(labels[i], ready[i], finals[i], times[i], cpu[i], stages[i], tiles[i], per_photo[i],
                    per_photo_cpu[i]) for i in range(len(ours))]
    for i, run in enumerate(runs, start=len(ours)):
        row = run.result(ready[i], finals[i], times[i], cpu[i])
        row.update(_per_photo(per_photo[i], per_photo_cpu[i]))
        row["task"] = task
        results.append(row)
    compare(results)
    peer_runs.attach_versus(results)
    return {
        "schema": SCHEMA, "mode": "call", "task": task,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "duration_s": time.time() - started,
        "settings": {**asdict(settings), "photos": [str(p) for p in photos],
                     "schedule": "every round: each photo on every contender, order rotating per photo"},
        "machine": {**probe(), "peak": None,
                    "load_average": {"before": load_before, "after": os.getloadavg() if load_before else None}},
        "results": results, "references": [], "peers": status,
    }
