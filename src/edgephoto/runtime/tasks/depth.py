"""Monocular depth at photo resolution: a global pass, then tiles aligned to it, then blend.

A depth model sees a whole scene at its input size. Tiles of a larger photo add detail but
each tile predicts depth up to its own scale and shift, so neighbouring tiles disagree. Every
tile is therefore least-squares aligned (scale + shift) to the global pass, upsampled to the
working size, before blending: the global pass fixes the layout, tiles add the detail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from edgephoto.metrics import align_scale_shift
from edgephoto.runtime.backends.base import Backend
from edgephoto.runtime.refine import resize
from edgephoto.runtime.tasks.common import (
    ModelFacts,
    default_overlap,
    fit_to_input,
    run_model,
    unfit,
)
from edgephoto.runtime.tiling import Tile, crop, margin_for, tile_image


@dataclass
class DepthResult:
    depth: np.ndarray  # (H, W) float32, in the model's unit (metres for FastDepth)
    global_depth: np.ndarray  # (H, W) the whole-image pass, upsampled
    tiles: list[dict[str, float]] = field(default_factory=list)  # per-tile alignment facts


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    a, b = a - a.mean(), b - b.mean()
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 0 else 0.0


def work_size(photo_hw: tuple[int, int], input_hw: tuple[int, int], detail: float) -> tuple[int, int]:
    """Photo resized so its long side is `detail` x the model's long side (never upsampled)."""
    h, w = photo_hw
    factor = min(1.0, detail * max(input_hw) / max(h, w))
    return max(1, round(h * factor)), max(1, round(w * factor))


def estimate_depth(
    backend: Backend,
    facts: ModelFacts,
    rgb: np.ndarray,
    *,
    detail: float | None = None,
    batch: int = 1,
    fit: str = "stretch",
    progress: Callable[[int, int], None] | None = None,
) -> DepthResult:
    """Depth for an (H, W, 3) uint8 photo. detail <= 1 returns the global pass alone.

    Default: the manifest's `extra.detail`, else 1.0. Tiles are opt-in because for FastDepth they
    cost accuracy: on Middlebury motorcycle (741x500) Spearman 0.769 / delta1 0.548 global-only
    vs 0.752 / 0.516 at detail 2 (12 tiles) and 0.724 / 0.479 at detail 3
    (benchmarks/results/runtime_bench.json): each 224 px tile sees too little scene for depth.
    """
    facts = ModelFacts.load(facts)
    detail = float(facts.extra.get("detail", 1.0)) if detail is None else detail
    in_hw = facts.input.hw
    assert in_hw[0] is not None and in_hw[1] is not None
    input_hw = (int(in_hw[0]), int(in_hw[1]))
    height, width = rgb.shape[:2]

    def run_batch(tiles: np.ndarray) -> np.ndarray:
        return run_model(backend, facts, tiles)[0]

    fitted, placement = fit_to_input(rgb, input_hw, fit)
    low = unfit(run_batch(fitted[None])[0][..., 0], placement, input_hw)
    work_hw = work_size((height, width), input_hw, detail)
    guide = resize(low, work_hw, "bilinear")
    stats: list[dict[str, float]] = []
    if work_hw[0] > input_hw[0] or work_hw[1] > input_hw[1]:
        overlap = default_overlap(facts, min(input_hw))

        def align(out: np.ndarray, tile: Tile) -> np.ndarray:
            target = crop(guide, tile.y, tile.x, tile.h, tile.w)
            aligned = align_scale_shift(out[..., 0], target)
            stats.append({
                "row": tile.row, "col": tile.col,
                "pearson": _pearson(aligned, target),
                "rmse_raw": float(np.sqrt(np.mean((out[..., 0] - target) ** 2))),
                "rmse_aligned": float(np.sqrt(np.mean((aligned - target) ** 2))),
            })
            return aligned[..., None]

        work_rgb = resize(rgb.astype(np.float32), work_hw, "area")
        tiled = tile_image(work_rgb, run_batch, tile=input_hw, overlap=overlap, batch=batch,
                           margin=margin_for(facts.receptive_field, overlap), per_tile=align,
                           progress=progress)
        assert tiled is not None
        detailed = tiled[..., 0]
    else:
        detailed = guide
    return DepthResult(
        depth=resize(detailed, (height, width), "bilinear"),
        global_depth=resize(low, (height, width), "bilinear"),
        tiles=stats,
    )
