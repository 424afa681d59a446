"""Edge-aware upsampling of low-resolution masks: the guided filter (He, Sun, Tang), numpy only.

A segmentation or matting model runs at a few hundred px; stretching its mask to a 12 MP photo
blurs hair and edges. The guided filter fits, in every window, the mask as a linear function of
the photo's colours, so mask edges snap to photo edges. The fast variant (He & Sun 2015) fits
the coefficients at a working resolution and applies them at full resolution, which keeps a
12 MP refinement to a few hundred MB. The filter itself (box means, coefficients, grey and
colour guides) is the runtime's one copy in photo/filters.py; this module resizes and upsamples.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from PIL import Image

from edgephoto.errors import InvalidOptionError
from edgephoto.runtime.photo.filters import box_mean, guided_coefficients, guided_filter

# box_mean and guided_filter stay importable from here, where the mask code first had them
__all__ = ["box_mean", "default_radius", "guided_filter", "guided_upsample", "resize", "upsample_bilinear"]

# Working size of the fast guided filter. On portraits 1-75 (selfie 256x256 masks) fitting at the
# mask's resolution scored IoU 0.916 / boundary F 0.743 at 26 ms CPU per photo, the same as at up
# to 1 MP (0.916 / 0.742, 99 ms): the mask holds no finer information to fit.
MIN_WORK_PIXELS, MAX_WORK_PIXELS = 256 * 256, 1_000_000
_METHODS = {"nearest": Image.Resampling.NEAREST, "bilinear": Image.Resampling.BILINEAR,
            "bicubic": Image.Resampling.BICUBIC, "area": Image.Resampling.BOX}


def resize(array: np.ndarray, size: tuple[int, int], method: str = "bilinear") -> np.ndarray:
    """Resize a float (H, W) or (H, W, C) array to size=(h, w), channel by channel, as float32."""
    if method not in _METHODS:
        raise InvalidOptionError(f"resize method must be one of {sorted(_METHODS)}, got '{method}'")
    h, w = size
    if array.shape[:2] == (h, w):
        return array.astype(np.float32)
    planes = array[..., None] if array.ndim == 2 else array
    out = np.empty((h, w, planes.shape[2]), np.float32)
    for c in range(planes.shape[2]):
        img = Image.fromarray(np.ascontiguousarray(planes[..., c], dtype=np.float32), mode="F")
        out[..., c] = np.asarray(img.resize((w, h), _METHODS[method]), np.float32)
    return out[..., 0] if array.ndim == 2 else out


_BLOCK_FLOATS = 1 << 15  # 128 KB of float32 per row block: fits L2 beside its inputs


@functools.lru_cache(maxsize=64)
def _taps(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray]:
    """Bilinear source rows for n_in -> n_out with half-pixel centres (Pillow's and OpenCV's
    convention): the lower index and the fraction, clamped at the edges. Cached: a camera or a
    batch gives the same few sizes again and again."""
    pos = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0, n_in - 1)
    low = np.floor(pos).astype(np.intp)
    return low, (pos - low).astype(np.float32)


def upsample_bilinear(low: np.ndarray, size: tuple[int, int], *, clip: bool = False) -> np.ndarray:
    """Enlarge a float (h, w) map to size=(H, W) in one vectorised pass, float32.

    The same values as resize(..., 'bilinear') when enlarging (Pillow adds no anti-alias then),
    in fewer full-size passes: columns are interpolated at the map's own height (cheap), rows are
    then gathered whole (memcpy) with the row-to-row step, so the full-size work is two gathers,
    one multiply and one add. Shrinking by less than 2x every source pixel still weighs in (a
    256² mask onto a 183 px side); beyond that an axis goes to Pillow, whose anti-alias it needs.
    clip=True clips to 0..1 in the same pass (a + (b - a) * f may round one ulp past 1).
    """
    h, w = low.shape
    height, width = size
    if 2 * height < h or 2 * width < w:
        out = resize(low, size, "bilinear")
        return np.clip(out, 0.0, 1.0, out=out) if clip else out
    low = low.astype(np.float32, copy=False)
    x0, fx = _taps(width, w)
    y0, fy = _taps(height, h)
    x1 = np.minimum(x0 + 1, w - 1)
    cols = np.take(low, x0, axis=1)  # C-ordered (low[:, x0] may come back column-major: slow rows)
    cols += (np.take(low, x1, axis=1) - cols) * fx
    step = np.diff(cols, axis=0, append=cols[-1:])  # last row: 0, the clamped edge
    out = np.empty((height, width), np.float32)
    rows = max(1, _BLOCK_FLOATS // width)  # row blocks: the scratch stays in cache, no full-size temporaries
    scratch = np.empty((rows, width), np.float32)
    for top in range(0, height, rows):
        index, part = y0[top : top + rows], out[top : top + rows]
        delta = scratch[: len(index)]
        np.take(cols, index, axis=0, out=part, mode="clip")  # "raise" would buffer `out`
        np.take(step, index, axis=0, out=delta, mode="clip")
        delta *= fy[top : top + rows, None]
        part += delta
        if clip:
            np.clip(part, 0.0, 1.0, out=part)
    return out


def default_radius(photo_hw: tuple[int, int], mask_hw: tuple[int, int]) -> int:
    """Window radius at full resolution: one low-res mask pixel (the blur to undo), at least 2 px.

    On lemur.png with an 8x-downsampled reference alpha this gave the lowest SAD of r in {2,4,8}.
    """
    return max(2, round(max(photo_hw[0] / mask_hw[0], photo_hw[1] / mask_hw[1])))


def guided_upsample(
    guide: np.ndarray,
    low: np.ndarray,
    *,
    radius: int | None = None,
    eps: float = 1e-4,
    color: bool = True,
    work_pixels: int | None = None,
) -> np.ndarray:
    """Upsample a low-res mask/alpha (h, w) in 0..1 to the guide photo's size (H, W) edge-aware.

    guide: the full photo (H, W, 3), 0..255. The coefficients are fitted at a working size of at
    most `work_pixels` (default: the mask's own pixel count, the fast guided filter) and applied to the full-resolution photo.
    Returns float32 (H, W) clipped to 0..1.
    """
    height, width = guide.shape[:2]
    radius = default_radius((height, width), low.shape[:2]) if radius is None else radius
    if work_pixels is None:  # fit at the mask's own resolution: same IoU/boundary F, 1/4 the time
        work_pixels = min(max(low.size, MIN_WORK_PIXELS), MAX_WORK_PIXELS)
    factor = max(1.0, math.sqrt(height * width / work_pixels))
    wh, ww = max(1, round(height / factor)), max(1, round(width / factor))
    full = guide.astype(np.float32) / 255.0
    if not color and full.ndim == 3:
        full = full @ np.array([0.299, 0.587, 0.114], np.float32)
    work_guide = resize(full, (wh, ww), "area")
    work_src = resize(low.astype(np.float32), (wh, ww), "bilinear")
    r_work = max(1, round(radius / factor))
    a, b = guided_coefficients(work_guide.astype(np.float64), work_src.astype(np.float64), r_work, eps)
    a_full = resize(a.astype(np.float32), (height, width), "bilinear")
    b_full = resize(b.astype(np.float32), (height, width), "bilinear")
    q = (a_full * full).sum(axis=2) if full.ndim == 3 else a_full * full
    return np.clip(q + b_full, 0.0, 1.0)
