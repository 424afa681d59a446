"""Seam-free tiling: run a fixed-size model over a photo of any size in bounded memory.

Why this shape:
- Every tile has the model's input size. A photo smaller than a tile is reflect-padded up; the
  last row/column of tiles is shifted back inside the photo instead of being shrunk.
- Photo borders are reflect-padded by half the overlap, so border pixels get the same context
  as interior ones (and tiling equals running the model once on the reflect-padded photo).
- Neighbouring tiles share `overlap` input px. Inside that band each tile's weight is zero for
  `margin` px at its edge (pixels whose receptive field leaves the tile never count) and then
  ramps up (linear or cosine). Per-axis weights are normalised across tiles, so their separable
  product is a partition of unity: the blend of a pointwise or conv model whose receptive field
  fits in the margin is the untiled result to float error.
- Tiles are processed row by row, `batch` at a time; outputs are accumulated into a band buffer
  one tile row high, and rows that no later tile touches are finished and handed out (to `sink`
  or the returned array). Neither all tiles nor all tile outputs ever exist at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from edgephoto.errors import InvalidOptionError

RunBatch = Callable[[np.ndarray], np.ndarray]
RAMPS = ("linear", "cosine")
FLUSH_ROWS = 64  # finished output rows handed to finish/sink at a time


@dataclass(frozen=True)
class Tile:
    """A tile's top-left in photo coordinates (negative or past the edge = reflect-padded)."""

    y: int
    x: int
    h: int
    w: int
    row: int
    col: int


def reflect_index(index: np.ndarray, n: int) -> np.ndarray:
    """Fold any integer positions onto 0..n-1 by mirroring without repeating the edge pixel."""
    if n == 1:
        return np.zeros_like(index)
    period = 2 * (n - 1)
    folded = np.mod(index, period)
    return np.where(folded < n, folded, period - folded)


def crop(image: np.ndarray, y: int, x: int, h: int, w: int) -> np.ndarray:
    """The h x w window of `image` at (y, x), reflect-padded wherever it leaves the photo."""
    height, width = image.shape[:2]
    if y >= 0 and x >= 0 and y + h <= height and x + w <= width:
        return image[y : y + h, x : x + w]
    rows = reflect_index(np.arange(y, y + h), height)
    cols = reflect_index(np.arange(x, x + w), width)
    return image[rows[:, None], cols[None, :]]


def axis_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Tile starts along one axis, in photo coordinates (the first is -overlap//2)."""
    if not 0 <= overlap < tile:
        raise InvalidOptionError(f"overlap must be in 0..tile-1, got {overlap} for tile {tile}")
    pad = overlap // 2
    padded = length + 2 * pad
    if padded <= tile:
        return [-pad]
    stride = tile - overlap
    starts = list(range(0, padded - tile, stride)) + [padded - tile]
    return [s - pad for s in starts]


def margin_for(receptive_field: int, overlap: int, min_ramp: int = 8) -> int:
    """Zero-weight edge px: the receptive radius if a ramp of `min_ramp` px still fits, else overlap/4.

    A model whose field fits gets exact tiling; one whose field exceeds the overlap (global
    models such as depth) gets a long ramp instead, which hides the seam best.
    """
    radius = max(receptive_field - 1, 0) // 2
    if overlap - 2 * radius >= min(min_ramp, overlap):
        return radius
    return overlap // 4


def axis_weights(
    length: int, starts: list[int], tile: int, overlap: int, *, scale: int = 1, margin: int = 0,
    ramp: str = "cosine",
) -> np.ndarray:
    """(tiles, length*scale) blend weights along one axis; columns sum to 1 over the photo."""
    if ramp not in RAMPS:
        raise InvalidOptionError(f"ramp must be one of {RAMPS}, got '{ramp}'")
    if not 0 <= 2 * margin <= overlap:
        raise InvalidOptionError(f"margin {margin} must be in 0..overlap/2 ({overlap})")
    width = max(overlap - 2 * margin, 1e-3)
    centres = (np.arange(length * scale, dtype=np.float64) + 0.5) / scale  # input-px positions
    raw = np.zeros((len(starts), length * scale), np.float64)
    for i, start in enumerate(starts):
        inside = (centres >= start) & (centres < start + tile)
        rise = np.clip((centres - start - margin) / width, 0, 1) if i > 0 else 1.0
        fall = np.clip((start + tile - centres - margin) / width, 0, 1) if i < len(starts) - 1 else 1.0
        shape = rise * fall
        if ramp == "cosine":
            shape = 0.5 - 0.5 * np.cos(np.pi * shape)
        raw[i] = np.where(inside, shape, 0.0)
    total = raw.sum(axis=0)
    if np.any(total <= 0):
        raise InvalidOptionError("tile layout leaves pixels uncovered (margin too large)")
    return (raw / total).astype(np.float32)


def tile_grid(height: int, width: int, tile: int | tuple[int, int], overlap: int) -> list[Tile]:
    """All tiles of a photo, row-major (for planning and tests; tile_image streams them)."""
    th, tw = (tile, tile) if isinstance(tile, int) else tile
    ys, xs = axis_starts(height, th, overlap), axis_starts(width, tw, overlap)
    return [Tile(y, x, th, tw, r, c) for r, y in enumerate(ys) for c, x in enumerate(xs)]


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def tile_image(
    image: np.ndarray,
    run_batch: RunBatch,
    *,
    tile: int | tuple[int, int],
    overlap: int,
    scale: int = 1,
    out_channels: int | None = None,
    batch: int = 1,
    progress: Callable[[int, int], None] | None = None,
    margin: int = 0,
    ramp: str = "cosine",
    per_tile: Callable[[np.ndarray, Tile], np.ndarray] | None = None,
    finish: Callable[[np.ndarray], np.ndarray] | None = None,
    sink: Callable[[int, np.ndarray], None] | None = None,
    out_dtype: type | np.dtype = np.float32,
) -> np.ndarray | None:
    """Run `run_batch` over uniform tiles of `image` (H, W, C) and blend at output `scale`.

    run_batch maps (N, th, tw, C) float32 tiles to (N, th*scale, tw*scale, C') with N <= batch.
    `per_tile(out, tile)` may adjust each output tile before blending (depth alignment).
    Finished rows go through `finish` (e.g. denormalise + clip) and then to `sink(y, rows)`
    when given (returns None), else into the returned (H*scale, W*scale, C') array.
    """
    if image.ndim == 2:
        image = image[..., None]
    if batch < 1 or scale < 1:
        raise InvalidOptionError(f"batch and scale must be >= 1 (got {batch}, {scale})")
    height, width = image.shape[:2]
    th, tw = (tile, tile) if isinstance(tile, int) else tile
    ys, xs = axis_starts(height, th, overlap), axis_starts(width, tw, overlap)
    wy = axis_weights(height, ys, th, overlap, scale=scale, margin=margin, ramp=ramp)
    wx = axis_weights(width, xs, tw, overlap, scale=scale, margin=margin, ramp=ramp)
    out_h, out_w = height * scale, width * scale
    result: np.ndarray | None = None
    band: np.ndarray | None = None  # accumulator for output rows [band_lo, band_lo + len(band))
    band_lo = 0
    done, total = 0, len(ys) * len(xs)

    def emit(rows: np.ndarray, y0: int) -> None:
        nonlocal result
        for i in range(0, len(rows), FLUSH_ROWS):  # small slices keep `finish` temporaries small
            part = finish(rows[i : i + FLUSH_ROWS]) if finish is not None else rows[i : i + FLUSH_ROWS]
            if sink is not None:
                sink(y0 + i, part)
                continue
            if result is None:
                result = np.empty((out_h, out_w, part.shape[2]), out_dtype)
            result[y0 + i : y0 + i + len(part)] = part

    for r, y in enumerate(ys):
        lo, hi = max(y * scale, 0), min((y + th) * scale, out_h)
        row_w = wy[r, lo:hi]
        for cols in _chunks(list(range(len(xs))), batch):
            tiles = np.stack([crop(image, y, xs[c], th, tw) for c in cols]).astype(np.float32)
            outputs = run_batch(tiles)
            del tiles
            if outputs.ndim == 3:
                outputs = outputs[..., None]
            expected = (th * scale, tw * scale)
            if outputs.shape[0] != len(cols) or outputs.shape[1:3] != expected:
                raise InvalidOptionError(
                    f"run_batch returned {outputs.shape}, expected ({len(cols)}, {expected[0]}, {expected[1]}, C)"
                )
            if band is None:
                channels = out_channels or outputs.shape[3]
                band = np.zeros((hi - lo, out_w, channels), np.float32)
                band_lo = lo
            for k, c in enumerate(cols):
                out = outputs[k].astype(np.float32)
                if per_tile is not None:
                    out = per_tile(out, Tile(y, xs[c], th, tw, r, c))
                x0, x1 = max(xs[c] * scale, 0), min((xs[c] + tw) * scale, out_w)
                weight = row_w[:, None] * wx[c, x0:x1][None, :]
                part = out[lo - y * scale : hi - y * scale, x0 - xs[c] * scale : x1 - xs[c] * scale]
                band[lo - band_lo : hi - band_lo, x0:x1] += part * weight[..., None]
            del outputs
            done += len(cols)
            if progress is not None:
                progress(done, total)
        assert band is not None
        final = out_h if r == len(ys) - 1 else max(ys[r + 1] * scale, 0)
        if final > band_lo:
            emit(band[: final - band_lo], band_lo)
        if r < len(ys) - 1:
            next_hi = min((ys[r + 1] + th) * scale, out_h)
            carry = band[final - band_lo :]
            band = np.zeros((next_hi - final, out_w, band.shape[2]), np.float32)
            band[: len(carry)] = carry
            band_lo = final
    return result


def untiled(image: np.ndarray, run_batch: RunBatch, *, overlap: int, scale: int = 1) -> np.ndarray:
    """The reference tile_image must match: the model once on the photo reflect-padded by overlap//2."""
    if image.ndim == 2:
        image = image[..., None]
    pad = overlap // 2
    height, width = image.shape[:2]
    padded = crop(image, -pad, -pad, height + 2 * pad, width + 2 * pad).astype(np.float32)
    out = run_batch(padded[None])[0]
    if out.ndim == 2:
        out = out[..., None]
    return out[pad * scale : (pad + height) * scale, pad * scale : (pad + width) * scale]


def even_tiles(height: int, width: int, *, max_px: int, overlap: int, minimum: int = 32) -> tuple[int, int]:
    """(th, tw) of at most `max_px` px that cover the photo in the fewest computed px.

    For models with open H/W: instead of square tiles whose last row/column mostly repeats
    its neighbour, the photo is split evenly, n tiles along each axis, each just big enough
    (tiles share `overlap` px and the borders are reflect-padded by overlap//2, as tile_image
    lays them out).
    """
    pad = overlap // 2
    best: tuple[int, int, int] | None = None
    for ny in range(1, height // max(minimum - overlap, 1) + 2):
        th = max(-(-(height + 2 * pad + (ny - 1) * overlap) // ny), minimum, overlap + 1)
        if th * max(minimum, overlap + 1) > max_px:
            continue
        nx = 1
        while True:
            tw = max(-(-(width + 2 * pad + (nx - 1) * overlap) // nx), minimum, overlap + 1)
            if th * tw <= max_px or tw <= max(minimum, overlap + 1):
                break
            nx += 1
        cost = len(axis_starts(height, th, overlap)) * len(axis_starts(width, tw, overlap)) * th * tw
        if best is None or cost < best[0]:
            best = (cost, th, tw)
    if best is None:  # even the smallest tile is over budget: the smallest tile it is
        side = max(minimum, overlap + 1)
        return side, side
    return best[1], best[2]


def tile_from_budget(
    budget_bytes: int, *, scale: int, in_channels: int, out_channels: int, overlap: int,
    batch: int = 1, features: int = 64, multiple: int = 8, minimum: int = 32, maximum: int = 1024,
) -> int:
    """Largest tile (a multiple of `multiple`) whose batch fits `budget_bytes` of float32.

    For models that accept dynamic sizes. `features` is the widest activation's channel count
    at input resolution; the output tile at scale s costs s*s*out_channels per input px.
    """
    per_px = 4 * batch * (in_channels + 2 * features + scale * scale * out_channels)
    side = int(math.sqrt(max(budget_bytes, 0) / per_px)) // multiple * multiple
    side = max(min(side, maximum), minimum, overlap + multiple)
    return side
