"""Golden tile plans and blends: where tiles go for real zoo models, and what tile_image makes
of fixed tile outputs (see formula.tile_output)."""

from __future__ import annotations

from typing import Any

import numpy as np

from edgephoto.runtime.golden.formula import encode, tile_output
from edgephoto.runtime.tasks.common import ModelFacts, default_overlap
from edgephoto.runtime.tasks.depth import work_size
from edgephoto.runtime.tasks.upscale import plan
from edgephoto.runtime.tiling import (
    axis_starts,
    axis_weights,
    margin_for,
    reflect_index,
    tile_image,
)
from edgephoto.zoo import get_model

# (model, photo height, width, budget_bytes or None): real zoo entries' policies
PLAN_CASES: tuple[tuple[str, int, int, int | None], ...] = (
    ("esrgan-slim-x2", 37, 53, None),
    ("esrgan-slim-x2", 128, 128, None),
    ("esrgan-slim-x2", 200, 300, None),
    ("esrgan-medium-x4", 389, 517, None),
    ("esrgan-thick-x4", 512, 341, None),
    ("fsrcnn-x2", 389, 517, None),
    ("fsrcnn-x2", 300, 200, 16 << 20),
    ("fsrcnn-x3", 1080, 1920, 64 << 20),
    ("fastdepth", 500, 741, None),
    ("fastdepth", 1080, 1920, None),
)
DEPTH_DETAIL = 2.0  # depth plans: the work size at detail 2 (tiles are opt-in, detail > 1)

# (photo h, w, channels, tile h, tile w, overlap, scale, margin, ramp) for blends of fixed outputs
BLEND_CASES: tuple[tuple[int, int, int, int, int, int, int, int, str], ...] = (
    (21, 29, 1, 16, 16, 6, 2, 1, "cosine"),
    (21, 29, 3, 16, 16, 6, 1, 0, "linear"),
    (23, 31, 2, 12, 20, 8, 1, 2, "cosine"),
    (10, 12, 1, 16, 16, 6, 3, 1, "cosine"),
)


def tile_windows(height: int, width: int, tile: tuple[int, int], overlap: int, scale: int) -> list[dict[str, int]]:
    """Every tile (row-major): input window (may leave the photo: reflect-padded) and the output
    rows/cols it writes, with the matching offsets inside the tile's output."""
    th, tw = tile
    ys, xs = axis_starts(height, th, overlap), axis_starts(width, tw, overlap)
    out: list[dict[str, int]] = []
    for r, y in enumerate(ys):
        lo, hi = max(y * scale, 0), min((y + th) * scale, height * scale)
        for c, x in enumerate(xs):
            x0, x1 = max(x * scale, 0), min((x + tw) * scale, width * scale)
            out.append({"row": r, "col": c, "y": y, "x": x, "h": th, "w": tw,
                        "out_y0": lo, "out_y1": hi, "out_x0": x0, "out_x1": x1,
                        "tile_y0": lo - y * scale, "tile_x0": x0 - x * scale})
    return out


def _plan_case(name: str, height: int, width: int, budget: int | None) -> dict[str, Any]:
    facts = ModelFacts.load(get_model(name))
    case: dict[str, Any] = {"model": name, "photo_hw": [height, width], "budget_bytes": budget,
                            "scale": facts.scale, "receptive_field": facts.receptive_field,
                            "policy_tile": facts.tile, "policy_overlap": facts.overlap}
    if facts.task == "depth":
        in_h, in_w = facts.input.hw
        assert in_h is not None and in_w is not None
        work = work_size((height, width), (in_h, in_w), DEPTH_DETAIL)
        overlap = default_overlap(facts, min(in_h, in_w))
        tile, hw, scale = (in_h, in_w), work, 1
        case.update(detail=DEPTH_DETAIL, work_hw=list(work))
    else:
        overlap = default_overlap(facts)
        tile, overlap = plan(facts, height, width, batch=1, budget_bytes=budget, overlap=overlap)
        hw, scale = (height, width), facts.scale
    margin = margin_for(facts.receptive_field, overlap)
    ys, xs = axis_starts(hw[0], tile[0], overlap), axis_starts(hw[1], tile[1], overlap)
    case.update(tile_hw=list(tile), overlap=overlap, margin=margin, ramp="cosine",
                whole=overlap == 0 and tuple(tile) == tuple(hw), ys=ys, xs=xs,
                tiles=tile_windows(hw[0], hw[1], (tile[0], tile[1]), overlap, scale))
    return case


def tile_plans() -> dict[str, Any]:
    reflect = [{"n": n, "index": list(range(-9, 14)), "folded": reflect_index(np.arange(-9, 14), n).tolist()}
               for n in (1, 2, 5)]
    return {"schema": "edgephoto.golden.tile_plans/1", "reflect": reflect,
            "cases": [_plan_case(*c) for c in PLAN_CASES]}


def _blend_case(h: int, w: int, ch: int, th: int, tw: int, overlap: int, scale: int, margin: int,
                ramp: str) -> dict[str, Any]:
    photo = np.zeros((h, w, ch), np.float32)  # the fixed outputs do not read the tiles
    count = 0

    def run_batch(tiles: np.ndarray) -> np.ndarray:
        nonlocal count
        outs = [tile_output(count + k, th * scale, tw * scale, ch) for k in range(len(tiles))]
        count += len(tiles)
        return np.stack(outs)

    blended = tile_image(photo, run_batch, tile=(th, tw), overlap=overlap, scale=scale, margin=margin, ramp=ramp)
    assert blended is not None
    ys, xs = axis_starts(h, th, overlap), axis_starts(w, tw, overlap)
    return {"photo_hw": [h, w], "channels": ch, "tile_hw": [th, tw], "overlap": overlap, "scale": scale,
            "margin": margin, "ramp": ramp, "ys": ys, "xs": xs,
            "weights_y": encode(axis_weights(h, ys, th, overlap, scale=scale, margin=margin, ramp=ramp)),
            "weights_x": encode(axis_weights(w, xs, tw, overlap, scale=scale, margin=margin, ramp=ramp)),
            "blended": encode(blended)}


def blends() -> dict[str, Any]:
    return {"schema": "edgephoto.golden.blend/1", "tile_output": "((31*k + 7*i + 3*j + 11*c) % 23) / 22",
            "cases": [_blend_case(*c) for c in BLEND_CASES]}
