"""The runtime's one box filter and one guided filter, and the blurs built on them (numpy only).

Every box mean here is the mean over the window clipped to the image (normalised by the count
of pixels inside it), not a mean over padded pixels. That is the mean the guided filter's
derivation assumes (He, Sun, Tang 2010: each output is fitted to the pixels of its own window,
the reference code divides by boxfilter(ones)), and it invents no pixels at the border, so
mask edges at the photo's border stay where the photo puts them. Window sums come from one
cumulative sum per axis, so the cost does not grow with the radius.
"""

from __future__ import annotations

import numpy as np

from edgephoto.errors import InvalidOptionError


def _dtype(*arrays: np.ndarray) -> type[np.floating]:
    """float64 if any input is float64, else float32: the mask path fits tiny eps in float64."""
    return np.float64 if any(a.dtype == np.float64 for a in arrays) else np.float32


def box_mean_1d(x: np.ndarray, radius: int, axis: int) -> np.ndarray:
    """Mean over the 2r+1 window clipped to the array along `axis`; float64 stays float64,
    anything else comes back float32. Sums accumulate in float64 either way."""
    r = max(int(radius), 0)
    n = x.shape[axis]
    moved = np.moveaxis(x, axis, 0)
    c = np.empty((n + 1,) + moved.shape[1:], np.float64)
    c[0] = 0.0
    for i in range(n):  # row by row: np.cumsum along an axis measured 3-35x slower
        np.add(c[i], moved[i], out=c[i + 1])
    result = np.empty(x.shape, _dtype(x))  # in the input's layout: later full-size ops stay contiguous
    out = np.moveaxis(result, axis, 0)
    if n > 2 * r:  # positions r..n-r-1: the window lies fully inside
        inner = out[r : n - r]
        np.subtract(c[2 * r + 1 :], c[: n - 2 * r], out=inner)
        inner *= 1.0 / (2 * r + 1)
        edges = np.r_[0:r, n - r : n]
    else:
        edges = np.arange(n)
    if len(edges):
        hi, lo = np.minimum(edges + r + 1, n), np.maximum(edges - r, 0)
        out[edges] = (c[hi] - c[lo]) / (hi - lo).reshape((-1,) + (1,) * (x.ndim - 1))
    return result


def box_mean(x: np.ndarray, radius: int) -> np.ndarray:
    """Mean over the (2r+1)^2 window clipped to the image, per channel of (H, W) or (H, W, C)."""
    return box_mean_1d(box_mean_1d(x, radius, 0), radius, 1)


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Three passes of box filters approximate a Gaussian of this sigma (Wells 1986)."""
    if sigma <= 0.3:
        return image.astype(np.float32, copy=True)
    # radius r of a box has variance ((2r+1)^2 - 1) / 12; three passes add up.
    r = max(1, int(round((np.sqrt(4.0 * sigma * sigma + 1.0) - 1.0) / 2.0)))
    out = image.astype(np.float32)
    for _ in range(3):
        out = box_mean(out, r)
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
        rows = padded[r + dy : r + dy + h]
        out += (box_mean_1d(rows, half, axis=1) if half else rows) * width
        weight += width
    return out / weight


def _solve_sym3(s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Solve S a = v for a stack of symmetric 3x3 S given as (..., 6) [xx, xy, xz, yy, yz, zz].

    Closed-form (adjugate / determinant): ~10x faster than batched np.linalg.solve per pixel.
    """
    xx, xy, xz, yy, yz, zz = (s[..., k] for k in range(6))
    c00, c01, c02 = yy * zz - yz * yz, xz * yz - xy * zz, xy * yz - xz * yy
    c11, c12, c22 = xx * zz - xz * xz, xy * xz - xx * yz, xx * yy - xy * xy
    inv_det = 1.0 / (xx * c00 + xy * c01 + xz * c02)
    v0, v1, v2 = v[..., 0], v[..., 1], v[..., 2]
    return np.stack([(c00 * v0 + c01 * v1 + c02 * v2) * inv_det,
                     (c01 * v0 + c11 * v1 + c12 * v2) * inv_det,
                     (c02 * v0 + c12 * v1 + c22 * v2) * inv_det], axis=-1)


_PAIRS = ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))


def guided_coefficients(guide: np.ndarray, src: np.ndarray, radius: int,
                        eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Window-averaged linear coefficients (A, B) with q = A.I + B.

    guide (H, W) with src (H, W) or (H, W, C): A and B are shaped like src. guide (H, W, 3)
    with src (H, W): A is (H, W, 3), B (H, W). All window means of one stage are taken in one
    box pass over a stacked (H, W, K) array (one cumulative sum walk instead of K).
    """
    if guide.shape[:2] != src.shape[:2] or guide.ndim not in (2, 3) or src.ndim not in (2, 3):
        raise InvalidOptionError(f"guided filter: guide {guide.shape} and source {src.shape} must be "
                                 "(H, W) or (H, W, C) of the same height and width")
    if guide.ndim == 2:
        p = src if src.ndim == 3 else src[..., None]
        g = guide[..., None]
        k = p.shape[2]
        means = box_mean(np.concatenate([g, p, g * p, g * g], axis=-1), radius)
        mean_i, mean_p = means[..., :1], means[..., 1 : 1 + k]
        a = (means[..., 1 + k : 1 + 2 * k] - mean_i * mean_p) / (means[..., 1 + 2 * k :] - mean_i * mean_i + eps)
        ab = box_mean(np.concatenate([a, mean_p - a * mean_i], axis=-1), radius)
        return (ab[..., :k], ab[..., k:]) if src.ndim == 3 else (ab[..., 0], ab[..., 1])
    if guide.shape[2] != 3 or src.ndim != 2:
        raise InvalidOptionError(f"guided filter: a colour guide must be (H, W, 3) with an (H, W) source, "
                                 f"got {guide.shape} and {src.shape}")
    planes = [guide[..., 0], guide[..., 1], guide[..., 2], src]
    planes += [guide[..., c] * src for c in range(3)]
    planes += [guide[..., i] * guide[..., j] for i, j in _PAIRS]
    means = box_mean(np.stack(planes, axis=-1), radius)
    mean_i, mean_p = means[..., 0:3], means[..., 3]
    cov_ip = means[..., 4:7] - mean_i * mean_p[..., None]
    sigma = np.stack([means[..., 7 + k] - mean_i[..., i] * mean_i[..., j] + (eps if i == j else 0.0)
                      for k, (i, j) in enumerate(_PAIRS)], axis=-1)
    a = _solve_sym3(sigma, cov_ip)
    b = mean_p - (a * mean_i).sum(axis=2)
    ab = box_mean(np.concatenate([a, b[..., None]], axis=-1), radius)
    return ab[..., :3], ab[..., 3]


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter: `src` smoothed edge-aware along `guide`, float32.

    guide (H, W) grey with src (H, W) or (H, W, C), or guide (H, W, 3) colour with src (H, W);
    eps is in the guide's units squared. Works in float64 when either input is float64 (masks
    in 0..1 with eps ~1e-4), else float32 (photos in 0..255).
    """
    dtype = _dtype(guide, src)
    guide, src = guide.astype(dtype, copy=False), src.astype(dtype, copy=False)
    a, b = guided_coefficients(guide, src, radius, eps)
    if guide.ndim == 3:
        q = (a * guide).sum(axis=2)
    else:
        q = a * (guide[..., None] if src.ndim == 3 else guide)
    return (q + b).astype(np.float32, copy=False)
