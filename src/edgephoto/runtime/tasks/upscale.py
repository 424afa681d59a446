"""Super-resolution: tile, infer, blend at output scale; luma-only models upscale Y and resize CbCr.

RGB models (ESRGAN: RGB 0-255 in and out) take tiles of the photo directly. Luma models (FSRCNN,
input normalisation colour 'Y') see the BT.601 full-range Y plane, as they were trained; Cb/Cr
are upscaled bicubically strip by strip (PIL's box resize keeps exact filter support across
strips), so even the colour path never holds a full-size float image.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

from edgephoto.runtime.backends.base import Backend
from edgephoto.runtime.photo.colour import rgb_to_ycbcr
from edgephoto.runtime.tasks.common import ModelFacts, default_overlap, run_model
from edgephoto.runtime.tiling import margin_for, tile_from_budget, tile_image

DEFAULT_BUDGET = 256 << 20  # bytes of model I/O + activations per batch, for dynamic-size models


def planes_to_uint8(y: np.ndarray, cb: np.ndarray, cr: np.ndarray) -> np.ndarray:
    """ycbcr_to_rgb + to_uint8 for separate float32 planes, in place (the luma path's hot loop)."""
    out = np.empty(y.shape + (3,), np.float32)
    cb, cr = cb - np.float32(128.0), cr - np.float32(128.0)
    for c, (k_cb, k_cr) in enumerate(((0.0, 1.402), (-0.344136, -0.714136), (1.772, 0.0))):
        plane = y + np.float32(k_cr) * cr if k_cr else y.copy()
        if k_cb:
            plane += np.float32(k_cb) * cb
        out[..., c] = plane
    np.rint(out, out=out)
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)


def to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def tile_size(facts: ModelFacts, *, batch: int, budget_bytes: int | None, overlap: int) -> tuple[int, int]:
    """The model's fixed input size, or the largest tile the memory budget allows if dynamic."""
    h, w = facts.input.hw
    if h is not None and w is not None:
        return h, w
    side = tile_from_budget(
        budget_bytes or DEFAULT_BUDGET, scale=facts.scale, in_channels=facts.input.channels or 3,
        out_channels=facts.output().channels or 3, overlap=overlap, batch=batch,
    )
    return side, side


def upscale(
    backend: Backend,
    facts: ModelFacts,
    rgb: np.ndarray,
    *,
    batch: int = 1,
    overlap: int | None = None,
    budget_bytes: int | None = None,
    ramp: str = "cosine",
    progress: Callable[[int, int], None] | None = None,
    sink: Callable[[int, np.ndarray], None] | None = None,
) -> np.ndarray | None:
    """Upscale an (H, W, 3) uint8 photo by the model's scale; uint8 (H*s, W*s, 3).

    `overlap` is px shared by neighbouring tiles (default: twice the policy's per-side
    overlap). With `sink(y, rows)` finished rows are streamed out and nothing is returned.
    """
    facts = ModelFacts.load(facts)
    s = facts.scale
    if overlap is None:
        overlap = default_overlap(facts)
    tile = tile_size(facts, batch=batch, budget_bytes=budget_bytes, overlap=overlap)
    margin = margin_for(facts.receptive_field, overlap)
    out_norm = facts.output().normalization

    def model_space_to_pixels(values: np.ndarray) -> np.ndarray:
        return out_norm.invert(values) if out_norm is not None else values

    def run_batch(tiles: np.ndarray) -> np.ndarray:
        return run_model(backend, facts, tiles)[0]

    options: dict[str, Any] = dict(tile=tile, overlap=overlap, scale=s, batch=batch, margin=margin, ramp=ramp,
                   progress=progress)
    luma = facts.input.normalization is not None and facts.input.normalization.color == "Y"
    if not luma:
        return tile_image(rgb, run_batch, finish=lambda rows: to_uint8(model_space_to_pixels(rows)),
                          sink=sink, out_dtype=np.uint8, **options)

    height, width = rgb.shape[:2]
    ycc = rgb_to_ycbcr(rgb)
    chroma = [Image.fromarray(np.ascontiguousarray(ycc[..., c]), mode="F") for c in (1, 2)]
    result = None if sink is not None else np.empty((height * s, width * s, 3), np.uint8)

    def luma_rows(y0: int, rows: np.ndarray) -> None:
        n = len(rows)
        box = (0.0, y0 / s, float(width), (y0 + n) / s)
        cb, cr = (np.asarray(c.resize((width * s, n), Image.Resampling.BICUBIC, box=box)) for c in chroma)
        out = planes_to_uint8(model_space_to_pixels(rows)[..., 0], cb, cr)
        if sink is not None:
            sink(y0, out)
        else:
            assert result is not None
            result[y0 : y0 + n] = out

    tile_image(ycc[..., :1], run_batch, sink=luma_rows, **options)
    return result
