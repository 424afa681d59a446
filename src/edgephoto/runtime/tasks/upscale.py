"""Super-resolution: tile, infer, blend at output scale; luma-only models upscale Y and resize CbCr.

RGB models (ESRGAN: RGB 0-255 in and out) take tiles of the photo directly. Luma models (FSRCNN,
input normalisation colour 'Y') see the BT.601 full-range Y plane, as they were trained; Cb/Cr
are upscaled bicubically strip by strip (PIL's box resize keeps exact filter support across
strips), so even the colour path never holds a full-size float image.

A model with open H/W (FSRCNN) runs on the whole photo at its own size, with no padding, when
that fits the memory budget: one engine call, the border handled by the model's own 'same'
padding as in training (and as OpenCV's dnn_superres runs it). Past the budget the photo is
split into even tiles (fewest computed px), never into fixed squares padded up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

from edgephoto.runtime.backends.base import Backend
from edgephoto.runtime.tasks.common import ModelFacts, default_overlap, run_model
from edgephoto.runtime.tiling import FLUSH_ROWS, even_tiles, margin_for, tile_image

DEFAULT_BUDGET = 256 << 20  # bytes of model I/O + activations per batch, for dynamic-size models


def planes_to_uint8(y: np.ndarray, cb: np.ndarray, cr: np.ndarray) -> np.ndarray:
    """ycbcr_to_rgb + to_uint8 for separate float32 planes (the luma path's hot loop).

    Per channel y + k_cb*(cb-128) + k_cr*(cr-128) in one reused scratch plane, the -128 and
    the rounding (+0.5, then the truncating cast of values clipped to 0..255) folded into one
    constant; ~5x less CPU than three float planes and an interleaved float copy."""
    out = np.empty(y.shape + (3,), np.uint8)
    plane = np.empty(y.shape, np.float32)
    scratch = np.empty(y.shape, np.float32)
    for c, (k_cb, k_cr) in enumerate(((0.0, 1.402), (-0.344136, -0.714136), (1.772, 0.0))):
        np.add(y, np.float32(0.5 - 128.0 * (k_cb + k_cr)), out=plane)
        for k, chroma in ((k_cr, cr), (k_cb, cb)):
            if k:
                np.multiply(chroma, np.float32(k), out=scratch)
                plane += scratch
        np.clip(plane, 0.0, 255.0, out=plane)
        out[..., c] = plane
    return out


def to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def budget_px(facts: ModelFacts, budget_bytes: int | None, batch: int = 1) -> int:
    """Input px one engine call of a dynamic-size model may take within the memory budget.

    Per px: float32 input, two live feature maps of 64 channels and the output at scale s, or
    what the model's own graph needs at its largest step when its manifest says more
    (extra.activation_bytes_per_px, written by convert: realesrgan-x4plus 8.4 kB vs 0.7)."""
    formula = 4 * ((facts.input.channels or 3) + 2 * 64 + facts.scale**2 * (facts.output().channels or 3))
    per_px = batch * max(formula, int(facts.extra.get("activation_bytes_per_px") or 0))
    return max(int((budget_bytes or DEFAULT_BUDGET) // per_px), 1)


def plan(facts: ModelFacts, height: int, width: int, *, batch: int, budget_bytes: int | None,
         overlap: int, tile: int | None = None) -> tuple[tuple[int, int], int]:
    """(tile h, w) and overlap for tile_image. Fixed-size models: their size. Open H/W: the
    whole photo with no overlap (no padding) when it fits the budget, else even tiles of at
    least the policy's tile; an explicit `tile` asks for tiles of that size."""
    h, w = facts.input.hw
    if h is not None and w is not None:
        return (h, w), overlap
    if tile:
        return (tile, tile), overlap
    limit = budget_px(facts, budget_bytes, batch)
    if height * width <= limit:
        return (height, width), 0
    return even_tiles(height, width, max_px=limit, overlap=overlap, minimum=max(facts.tile, overlap + 8)), overlap


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
    tile, overlap = plan(facts, *rgb.shape[:2], batch=batch, budget_bytes=budget_bytes, overlap=overlap)
    margin = margin_for(facts.receptive_field, overlap)
    out_norm = facts.output().normalization

    def model_space_to_pixels(values: np.ndarray) -> np.ndarray:
        return out_norm.invert(values) if out_norm is not None else values

    def run_batch(tiles: np.ndarray) -> np.ndarray:
        return run_model(backend, facts, tiles)[0]

    whole = overlap == 0 and tuple(tile) == tuple(rgb.shape[:2]) and facts.input.hw == (None, None)
    options: dict[str, Any] = dict(tile=tile, overlap=overlap, scale=s, batch=batch, margin=margin, ramp=ramp,
                   progress=progress)
    luma = facts.input.normalization is not None and facts.input.normalization.color == "Y"
    if not luma:
        finish = lambda rows: to_uint8(model_space_to_pixels(rows))  # noqa: E731
        if whole:
            return _emit_whole(run_batch(rgb[None].astype(np.float32))[0], finish, sink, progress)
        return tile_image(rgb, run_batch, finish=finish, sink=sink, out_dtype=np.uint8, **options)

    height, width = rgb.shape[:2]
    y_plane, cb_plane, cr_plane = ycbcr_planes(rgb)
    chroma = [Image.fromarray(c, mode="F") for c in (cb_plane, cr_plane)]
    del cb_plane, cr_plane

    def luma_rows(y0: int, rows: np.ndarray) -> np.ndarray:
        n = len(rows)
        box = (0.0, y0 / s, float(width), (y0 + n) / s)
        cb, cr = (np.asarray(c.resize((width * s, n), Image.Resampling.BICUBIC, box=box)) for c in chroma)
        return planes_to_uint8(model_space_to_pixels(rows)[..., 0], cb, cr)

    if whole:
        out = run_batch(y_plane[None, ..., None])[0]
        del y_plane
        return _emit_whole(out, luma_rows, sink, progress, rows_arg=True)
    result = None if sink is not None else np.empty((height * s, width * s, 3), np.uint8)

    def store(y0: int, rows: np.ndarray) -> None:
        out = luma_rows(y0, rows)
        if sink is not None:
            sink(y0, out)
        else:
            assert result is not None
            result[y0 : y0 + len(out)] = out

    tile_image(y_plane[..., None], run_batch, sink=store, **options)
    return result


def ycbcr_planes(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """rgb_to_ycbcr as three contiguous float32 planes, channel by channel: half the CPU time of
    its (H, W, 3) @ (3, 3) matmul on a 1000x700 photo (15 vs 30 ms), and no interleaved copy."""
    r, g, b = (rgb[..., c].astype(np.float32) for c in range(3))
    y = np.float32(0.299) * r + np.float32(0.587) * g + np.float32(0.114) * b
    cb = np.float32(-0.168736) * r - np.float32(0.331264) * g + np.float32(0.5) * b + np.float32(128.0)
    cr = np.float32(0.5) * r - np.float32(0.418688) * g - np.float32(0.081312) * b + np.float32(128.0)
    return y, cb, cr


def _emit_whole(out: np.ndarray, finish: Callable[..., np.ndarray], sink: Callable[[int, np.ndarray], None] | None,
                progress: Callable[[int, int], None] | None, *, rows_arg: bool = False) -> np.ndarray | None:
    """Finish one whole-photo engine output in row strips (bounded temporaries), to `sink` or
    into the returned uint8 photo."""
    if progress is not None:
        progress(1, 1)
    if out.ndim == 2:
        out = out[..., None]
    result: np.ndarray | None = None
    # strips of ~1 M output px (>= FLUSH_ROWS rows): few chroma resize calls, bounded temporaries
    step = max(FLUSH_ROWS, (1 << 20) // max(out.shape[1], 1))
    for y0 in range(0, len(out), step):
        rows = out[y0 : y0 + step]
        part = finish(y0, rows) if rows_arg else finish(rows)
        if sink is not None:
            sink(y0, part)
            continue
        if result is None:
            result = np.empty((len(out), out.shape[1], part.shape[2]), np.uint8)
        result[y0 : y0 + len(part)] = part
    return result
