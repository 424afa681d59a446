"""Colour spaces in numpy (BT.601 YCbCr, sRGB <-> CIE LAB), and white balance as a bounded shift of the a*/b* means.

LAB separates lightness from the two opponent colour axes, so a colour cast is (to first order)
an offset of the a* (green-red) and b* (blue-yellow) means. Grey-world assumes the scene
averages to neutral; white-patch assumes its brightest (unclipped) pixels are. Neither is
always true - a green meadow is not grey - so the shift is limited (`max_shift`) and partial
(`strength`), and it is scaled per pixel by lightness so blacks stay black.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgephoto.errors import UnknownNameError

# sRGB (D65) primaries -> CIE XYZ, IEC 61966-2-1.
_RGB_TO_XYZ = np.array(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]],
    dtype=np.float64,
)
_XYZ_TO_RGB = np.linalg.inv(_RGB_TO_XYZ)
_WHITE_D65 = _RGB_TO_XYZ.sum(axis=1)  # XYZ of RGB (1, 1, 1)
_EPS = 216.0 / 24389.0
_KAPPA = 24389.0 / 27.0


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """BT.601 full-range (JPEG/OpenCV) YCbCr from RGB 0..255, float32."""
    m = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], np.float32)
    out = rgb.astype(np.float32) @ m.T
    out[..., 1:] += 128.0
    return out


def ycbcr_to_rgb(ycc: np.ndarray) -> np.ndarray:
    y, cb, cr = ycc[..., 0], ycc[..., 1] - 128.0, ycc[..., 2] - 128.0
    return np.stack([y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb], axis=-1)


def srgb_to_linear(srgb: np.ndarray) -> np.ndarray:
    """Undo the sRGB transfer curve; input 0..1."""
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    linear = np.clip(linear, 0.0, None)
    return np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """uint8 (or 0..1 float) sRGB -> float32 LAB (L 0..100, a/b roughly -128..127), D65."""
    x = rgb.astype(np.float64) / 255.0 if rgb.dtype == np.uint8 else rgb.astype(np.float64)
    xyz = srgb_to_linear(x) @ _RGB_TO_XYZ.T / _WHITE_D65
    f = np.where(xyz > _EPS, np.cbrt(xyz), (_KAPPA * xyz + 16.0) / 116.0)
    lab = np.stack(
        [116.0 * f[..., 1] - 16.0, 500.0 * (f[..., 0] - f[..., 1]), 200.0 * (f[..., 1] - f[..., 2])],
        axis=-1,
    )
    return lab.astype(np.float32)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """float LAB -> uint8 sRGB (out-of-gamut colours clipped)."""
    lab = lab.astype(np.float64)
    fy = (lab[..., 0] + 16.0) / 116.0
    fx = fy + lab[..., 1] / 500.0
    fz = fy - lab[..., 2] / 200.0
    f = np.stack([fx, fy, fz], axis=-1)
    xyz = np.where(f**3 > _EPS, f**3, (116.0 * f - 16.0) / _KAPPA)
    y_lin = np.where(lab[..., 0] > _KAPPA * _EPS, fy**3, lab[..., 0] / _KAPPA)
    xyz[..., 1] = y_lin
    linear = (xyz * _WHITE_D65) @ _XYZ_TO_RGB.T
    return np.clip(np.rint(linear_to_srgb(linear) * 255.0), 0, 255).astype(np.uint8)


def _cast_estimate(lab: np.ndarray, method: str, percentile: float) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) offset per unit of lightness weight, and the pixel mask it came from."""
    L = lab[..., 0]
    usable = (L > 5.0) & (L < 97.0)  # blacks carry no colour; clipped whites lie about it
    if usable.sum() < 100:
        usable = np.ones_like(L, dtype=bool)
    if method == "whitepatch":
        usable &= L >= np.percentile(L[usable], percentile)
    elif method != "grayworld":
        raise UnknownNameError("white-balance method", method, ("grayworld", "whitepatch"))
    weight = _lightness_weight(L)
    ab = lab[..., 1:][usable]
    # Solve mean(ab - s * w) = 0 over the chosen pixels: s = sum(ab) / sum(w).
    shift = ab.sum(axis=0) / max(float(weight[usable].sum()), 1e-6)
    return shift, usable


def _lightness_weight(L: np.ndarray) -> np.ndarray:
    """A cast scales with light: none in black, full from mid-grey up."""
    return np.clip(L / 50.0, 0.0, 1.0)


def white_balance(
    rgb: np.ndarray,
    *,
    method: str = "grayworld",
    strength: float = 0.8,
    max_shift: float = 12.0,
    percentile: float = 97.0,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Remove a colour cast by shifting a*/b* toward neutral; returns (uint8 RGB, params).

    strength: fraction of the measured cast to remove. max_shift: cap on the shift length in
    LAB units (about 2.3 is a just-noticeable difference), so a scene that really is mostly one
    colour is nudged, not repainted.
    """
    lab = rgb_to_lab(rgb)
    cast, used = _cast_estimate(lab, method, percentile)
    shift = strength * cast
    length = float(np.hypot(*shift))
    limited = length > max_shift
    if limited:
        shift = shift * (max_shift / length)
    weight = _lightness_weight(lab[..., 0])[..., None]
    lab[..., 1:] -= (shift * weight).astype(np.float32)
    out = lab_to_rgb(lab)
    params = {
        "method": method,
        "cast_ab": [round(float(v), 3) for v in cast],
        "shift_ab": [round(float(v), 3) for v in shift],
        "strength": strength,
        "max_shift": max_shift,
        "limited": limited,
        "pixels_used": int(used.sum()),
    }
    return out, params
