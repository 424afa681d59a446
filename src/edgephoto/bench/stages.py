"""Per-stage times of a whole runtime call, from a table of the task functions that make it up.

STAGES names, per task, the module-level functions its runtime call goes through and the stage
each belongs to; `instrument` wraps them (and the engine's `run`, stage 'model') in the whole-call
benchmark's own child process only. Times are exclusive (a stage called inside another is not
counted twice); what no listed function covers is 'other'. A renamed function fails `instrument`
loudly (tests check every entry), so the table cannot silently stop measuring.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from typing import Any

from edgephoto.errors import EdgePhotoError

STAGES: dict[str, dict[str, dict[str, str]]] = {
    "segmentation": {"edgephoto.runtime.tasks.segmentation": {
        "fit_photo": "fit (resize in)", "run_model": "feed", "output_mask": "post (probability, crop)",
        "upsample_mask": "upsample", "zoom_regions": "zoom decision"}},
    "upscale": {"edgephoto.runtime.tasks.upscale": {
        "plan": "plan", "ycbcr_planes": "colour in", "run_model": "feed", "tile_image": "tiles",
        "_emit_whole": "post (colour out)", "planes_to_uint8": "post (colour out)"}},
    "depth": {"edgephoto.runtime.tasks.depth": {
        "fit_to_input": "fit (resize in)", "run_model": "feed", "unfit": "post", "resize": "resize",
        "tile_image": "tiles", "align_scale_shift": "post"}},
}
MODEL_STAGE = "model"


class StageClock:
    """Exclusive wall time per stage, and calls per stage, since the last `reset`."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._inner: list[float] = []

    def reset(self) -> None:
        self.seconds, self.calls = {}, {}

    def wrap(self, stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._inner.append(0.0)
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                inner = self._inner.pop()
                self.seconds[stage] = self.seconds.get(stage, 0.0) + elapsed - inner
                self.calls[stage] = self.calls.get(stage, 0) + 1
                if self._inner:
                    self._inner[-1] += elapsed

        timed.__wrapped__ = function  # type: ignore[attr-defined]
        return timed

    def split(self, total_seconds: float) -> dict[str, float]:
        """{stage: ms} with 'other' = the rest of the call."""
        out = {stage: s * 1e3 for stage, s in self.seconds.items()}
        out["other"] = max(0.0, total_seconds * 1e3 - sum(out.values()))
        return out


def instrument(task: str, backend: Any, clock: StageClock) -> None:
    """Wrap the task's listed functions and the backend's `run` with `clock` (this process only)."""
    if task not in STAGES:
        raise EdgePhotoError(f"no stage table for task '{task}' (stages are listed for {', '.join(STAGES)})")
    for module_name, functions in STAGES[task].items():
        module = importlib.import_module(module_name)
        for name, stage in functions.items():
            function = getattr(module, name, None)
            if not callable(function):
                raise EdgePhotoError(f"bench stages: {module_name}.{name} no longer exists (update bench/stages.py)")
            setattr(module, name, clock.wrap(stage, function))
    backend.run = clock.wrap(MODEL_STAGE, backend.run)
