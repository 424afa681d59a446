"""Small numpy filters shared by the photo steps and the effects (no SciPy in the runtime).

Box filters use running sums, so their cost does not grow with the radius; everything else
(Gaussian, disc bokeh, guided filter) is built from them.
"""

from __future__ import annotations

import numpy as np


def box_filter(image: np.ndarray, radius: int) -> np.ndarray:
    """Mean over a (2r+1)^2 window, edges handled by reflection. Works on HxW or HxWxC."""
    if radius <= 0:
        return image.astype(np.float32, copy=True)
    out = image.astype(np.float32)
    for axis in (0, 1):
        out = _box_1d(out, radius, axis)
    return out


def _box_1d(image: np.ndarray, radius: int, axis: int) -> np.ndarray:
    n = image.shape[axis]
    r = min(radius, max(n - 1, 0))
    if r == 0:
        return image
    pad = [(0, 0)] * image.ndim
    pad[axis] = (r + 1, r)
    padded = np.pad(image, pad, mode="reflect" if n > r + 1 else "edge")
    sums = np.cumsum(padded, axis=axis, dtype=np.float64)
    moved = np.moveaxis(sums, axis, 0)
    window = moved[2 * r + 1 : 2 * r + 1 + n] - moved[:n]
    return np.moveaxis(window, 0, axis).astype(np.float32) * np.float32(1.0 / (2 * r + 1))


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Three passes of box filters approximate a Gaussian of this sigma (Wells 1986)."""
    if sigma <= 0.3:
        return image.astype(np.float32, copy=True)
    # radius r of a box has variance ((2r+1)^2 - 1) / 12; three passes add up.
    r = max(1, int(round((np.sqrt(4.0 * sigma * sigma + 1.0) - 1.0) / 2.0)))
    out = image.astype(np.float32)
    for _ in range(3):
        out = box_filter(out, r)
    return out


def disc_blur(image: np.ndarray, radius: float) -> np.ndarray:
    """A lens-like (flat, round) blur: a disc built from a few stacked horizontal box rows.

    A disc is the union of horizontal chords; summing box filters of the chord widths at each
    row offset gives an exact disc kernel in O(r) box passes instead of O(r^2) taps.
    """
    r = int(round(radius))
    if r < 1:
        return image.astype(np.float32, copy=True)
    src = image.astype(np.float32)
    pad = [(r, r), (0, 0)] + [(0, 0)] * (src.ndim - 2)
    padded = np.pad(src, pad, mode="edge")
    h = src.shape[0]
    out = np.zeros_like(src)
    weight = 0.0
    step = max(1, r // 6)  # sample chords; more than ~13 rows adds little visible difference
    for dy in range(-r, r + 1, step):
        half = int(np.floor(np.sqrt(max(r * r - dy * dy, 0))))
        width = 2 * half + 1
        row = _box_1d(padded[r + dy : r + dy + h], half, axis=1) if half else padded[r + dy : r + dy + h]
        out += row * width
        weight += width
    return out / weight


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter with a grey guide: edge-preserving smoothing in O(N)."""
    guide = guide.astype(np.float32)
    src = src.astype(np.float32)
    if src.ndim == 3 and guide.ndim == 2:
        guide = guide[..., None]
    mean_i = box_filter(guide, radius)
    mean_p = box_filter(src, radius)
    cov_ip = box_filter(guide * src, radius) - mean_i * mean_p
    var_i = box_filter(guide * guide, radius) - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return box_filter(a, radius) * guide + box_filter(b, radius)
