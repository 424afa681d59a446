"""A whole-call benchmark child: `python -m edgephoto.bench.call_child SETTINGS_JSON`.

Loads one model through the public runtime (`edgephoto.load`), reads the photos once (decoding
is not timed: the call takes an RGB array, as MediaPipe's and OpenCV's calls do), instruments
the task's stages (bench/stages.py) and answers the bench protocol (bench/worker.py): 'run K'
times photo K in, result out; 'keep K PATH' saves that result (untimed) for quality checks.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from typing import Any

import numpy as np

from edgephoto.bench.worker import peak_rss_mb
from edgephoto.errors import EdgePhotoError


def _result_array(out: Any) -> np.ndarray:
    """The call's main result as one array (depth's DepthResult: its full-size depth)."""
    return np.asarray(getattr(out, "depth", out))


def main(settings: dict[str, Any], reply: Any, commands: Any) -> None:
    from edgephoto.api import as_rgb, load
    from edgephoto.bench.stages import StageClock, instrument

    base_rss = peak_rss_mb()
    options = {"threads": settings["threads"]} if settings.get("threads") else {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        model = load(settings["model"], backend=settings.get("backend") or "auto",
                     device=settings.get("device", "auto"), **options)
        load_ms = (time.perf_counter() - start) * 1e3
    if settings.get("task") and model.task != settings["task"]:
        raise EdgePhotoError(f"{settings['model']} is a {model.task} model, not {settings['task']}")
    photos = [as_rgb(path) for path in settings["photos"]]
    call_options = dict(settings.get("options") or {})  # the task's own options, e.g. zoom=False
    clock = StageClock()
    instrument(model.task, model.backend, clock)
    start = time.perf_counter()
    model(photos[0], **call_options)
    first_ms = (time.perf_counter() - start) * 1e3
    for k in range(int(settings.get("warmup", 0))):
        model(photos[k % len(photos)], **call_options)
    reply("ready", {
        "backend": model.backend.describe(), "manifest": model.manifest, "path": str(model.path),
        "warnings": [str(w.message) for w in caught], "base_rss_mb": base_rss,
        "load": {"import_ms": 0.0, "load_ms": load_ms, "first_run_ms": first_ms, "cold_start_ms": load_ms + first_ms},
        "feed": {"photos": len(photos)},
    })
    for line in commands:
        words = line.split()
        if not words or words[0] not in ("run", "keep"):
            break
        photo = photos[int(words[1])]
        if words[0] == "keep":
            np.save(words[2], _result_array(model(photo, **call_options)))
            reply("kept", words[2])
            continue
        clock.reset()
        cpu, start = time.process_time(), time.perf_counter()
        model(photo, **call_options)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        reply("ms", [wall * 1e3, cpu * 1e3, clock.split(wall), clock.calls.get("model", 0)])
    model.close()
    reply("done", {"peak_rss_mb": peak_rss_mb()})


def child(settings_json: str) -> None:
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # an engine printing to stdout cannot corrupt the protocol

    def reply(kind: str, payload: Any) -> None:
        out.write(json.dumps([kind, payload], default=str) + "\n")

    try:
        main(json.loads(settings_json), reply, sys.stdin)
    except EdgePhotoError as exc:
        reply("error", [type(exc).__name__, str(exc)])
    except Exception as exc:  # an engine's own failure: reported to the parent, not a traceback
        first = (str(exc).strip().splitlines() or [""])[0]
        reply("error", ["EdgePhotoError", f"{type(exc).__name__}: {first}"])


if __name__ == "__main__":
    child(sys.argv[1])
