"""Measure sensor noise, then denoise exactly as hard as the photo needs.

The estimate is Immerkaer's (1996) Laplacian-difference operator made robust: the median of its
absolute response (not the mean) on pixels away from strong edges, so texture and edges do not
read as noise. The denoise is a self-guided filter (He et al. 2010) on luma and chroma
separately: chroma noise is smoothed harder because the eye forgives lost colour detail, and
the smoothing threshold (eps) is tied to the measured sigma, with the EXIF ISO as a prior.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from edgephoto.runtime.photo.colour import rgb_to_ycbcr, ycbcr_to_rgb
from edgephoto.runtime.photo.filters import guided_filter

# The 3x3 operator is the difference of two Laplacians: blind to linear ramps, and its response
# to white noise of std sigma has std 6 * sigma (sum of squared weights is 36).
_M = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)
_MAD_TO_SIGMA = 1.0 / 0.6744897501960817


def _laplacian_diff(channel: np.ndarray) -> np.ndarray:
    c = channel.astype(np.float32)
    out = np.zeros((c.shape[0] - 2, c.shape[1] - 2), np.float32)
    for dy in range(3):
        for dx in range(3):
            out += _M[dy, dx] * c[dy : dy + out.shape[0], dx : dx + out.shape[1]]
    return out


def _gradient(channel: np.ndarray) -> np.ndarray:
    c = channel.astype(np.float32)
    gx = c[1:-1, 2:] - c[1:-1, :-2]
    gy = c[2:, 1:-1] - c[:-2, 1:-1]
    return np.abs(gx) + np.abs(gy)


def estimate_noise(image: np.ndarray, *, edge_quantile: float = 0.5) -> dict[str, Any]:
    """Per-channel noise sigma (0-255 scale) of an RGB or grey image, and their mean.

    Pixels whose gradient is above `edge_quantile` of the channel's gradients are left out:
    edges would otherwise be counted as noise. Pixels at 0 or 255 are left out too (clipping
    hides noise there).
    """
    array = image if image.ndim == 3 else image[..., None]
    sigmas = []
    for c in range(array.shape[2]):
        channel = array[..., c].astype(np.float32)
        if min(channel.shape) < 8:
            sigmas.append(0.0)
            continue
        response = np.abs(_laplacian_diff(channel))
        grad = _gradient(channel)
        inner = channel[1:-1, 1:-1]
        keep = (inner > 0) & (inner < 255)
        if keep.sum() > 64:
            keep &= grad <= np.quantile(grad[keep], edge_quantile)
        values = response[keep] if keep.sum() > 64 else response.ravel()
        sigmas.append(float(np.median(values)) * _MAD_TO_SIGMA / 6.0)
    sigma = float(np.mean(sigmas))
    return {"sigma": sigma, "sigma_per_channel": sigmas, "method": "immerkaer-mad"}


def denoise(
    rgb: np.ndarray,
    *,
    sigma: float | None = None,
    iso: int | None = None,
    strength: float = 1.0,
    min_sigma: float = 1.0,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Edge-preserving denoise whose strength follows the noise; returns (uint8 RGB, params).

    sigma: the noise to remove (0-255 scale); measured when None. iso: the EXIF ISO, which
    raises the strength for high-gain shots (colour noise there is worse than luma suggests).
    Below `min_sigma` the photo is returned untouched: denoising a clean photo only blurs it.
    """
    measured = estimate_noise(rgb)["sigma"] if sigma is None else float(sigma)
    iso_boost = 1.0
    if iso:
        iso_boost = float(np.clip(1.0 + 0.25 * math.log2(max(iso, 100) / 400.0), 1.0, 1.5))
    effective = measured * strength * iso_boost
    params: dict[str, Any] = {
        "sigma_measured": round(measured, 3),
        "sigma_source": "given" if sigma is not None else "estimated",
        "iso": iso,
        "iso_boost": round(iso_boost, 3),
        "strength": strength,
    }
    if effective < min_sigma:
        params.update(applied=False, reason=f"noise sigma {effective:.2f} < {min_sigma}")
        return rgb.copy(), params
    ycc = rgb_to_ycbcr(rgb)
    radius_y = int(np.clip(round(effective / 4.0), 1, 4))
    radius_c = 2 * radius_y + 1
    # eps is the variance below which the guided filter flattens: a few sigma^2.
    eps_y = (1.6 * effective) ** 2
    eps_c = (3.0 * effective) ** 2
    y = ycc[..., 0]
    y_out = guided_filter(y, y, radius_y, eps_y)
    chroma = ycc[..., 1:]
    c_out = guided_filter(y_out, chroma, radius_c, eps_c)
    # Keep a little of the original grain so flat areas do not look plastic.
    keep = 0.1
    y_out = keep * y + (1 - keep) * y_out
    out = ycbcr_to_rgb(np.concatenate([y_out[..., None], c_out], axis=-1))
    params.update(
        applied=True,
        sigma_effective=round(effective, 3),
        radius_luma=radius_y,
        radius_chroma=radius_c,
        eps_luma=round(eps_y, 2),
        eps_chroma=round(eps_c, 2),
        grain_kept=keep,
        method="guided-filter-ycbcr",
    )
    return np.clip(np.rint(out), 0, 255).astype(np.uint8), params


__all__ = ["denoise", "estimate_noise"]
