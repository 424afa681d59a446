"""Photo effects from a matte and a depth map: cut-out, new background, bokeh, relighting.

Pure numpy/Pillow; inputs are arrays: `rgb` uint8 HxWx3, `matte`/`mask` float 0..1 HxW
(1 = subject), `depth` float HxW with larger = farther (metres, as FastDepth gives) unless
`larger_is_farther=False` says it is a disparity/inverse depth (larger = nearer). Blurs and
blends happen in linear light, so bright background points bloom the way a lens makes them.
Every effect returns (uint8 image, params dict).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from edgephoto.errors import InvalidOptionError
from edgephoto.runtime.photo.colour import linear_to_srgb, srgb_to_linear
from edgephoto.runtime.photo.filters import disc_blur, gaussian_blur

_TO_LINEAR = srgb_to_linear(np.arange(256) / 255.0).astype(np.float32)


def _check(rgb: np.ndarray, *maps: np.ndarray | None) -> None:
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise InvalidOptionError(f"expected uint8 HxWx3 RGB, got {rgb.dtype} {rgb.shape}")
    for array in maps:
        if array is not None and array.shape != rgb.shape[:2]:
            raise InvalidOptionError(f"map of shape {array.shape} does not match the photo {rgb.shape[:2]}")


def _linear(rgb: np.ndarray) -> np.ndarray:
    return _TO_LINEAR[rgb]


def _to_srgb8(linear: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(linear_to_srgb(linear) * 255.0), 0, 255).astype(np.uint8)


def _unit(matte: np.ndarray) -> np.ndarray:
    return np.clip(np.nan_to_num(matte.astype(np.float32)), 0.0, 1.0)


def remove_background(rgb: np.ndarray, matte: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """RGBA with the matte as alpha (write it as PNG/WebP)."""
    _check(rgb, matte)
    alpha = np.clip(np.rint(_unit(matte) * 255.0), 0, 255).astype(np.uint8)
    return np.dstack([rgb, alpha]), {"foreground_fraction": round(float(alpha.mean() / 255.0), 4)}


def fit_background(background: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """Scale to cover the photo and centre-crop (no stretching)."""
    h, w = size_hw
    bh, bw = background.shape[:2]
    scale = max(h / bh, w / bw)
    nh, nw = max(h, round(bh * scale)), max(w, round(bw * scale))
    image = Image.fromarray(background[..., :3]).resize((nw, nh), Image.Resampling.LANCZOS)
    y0, x0 = (nh - h) // 2, (nw - w) // 2
    return np.asarray(image)[y0 : y0 + h, x0 : x0 + w]


def replace_background(
    rgb: np.ndarray,
    matte: np.ndarray,
    background: np.ndarray | tuple[int, int, int],
    *,
    blur_background: float = 0.0,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Composite the subject onto an image (cover-fitted) or a flat colour, in linear light."""
    _check(rgb, matte)
    h, w = rgb.shape[:2]
    if isinstance(background, tuple | list):
        colour = np.asarray(background, np.uint8).reshape(1, 1, 3)
        back = np.broadcast_to(colour, rgb.shape)
        kind = f"colour {tuple(int(c) for c in colour.ravel())}"
    else:
        back = fit_background(np.asarray(background, np.uint8), (h, w))
        kind = f"image {background.shape[1]}x{background.shape[0]}"
    back_lin = _linear(np.ascontiguousarray(back))
    if blur_background > 0:
        back_lin = gaussian_blur(back_lin, blur_background)
    a = _unit(matte)[..., None]
    out = _linear(rgb) * a + back_lin * (1.0 - a)
    return _to_srgb8(out), {"background": kind, "blur_background": blur_background}


def _resize_float(x: np.ndarray, size_hw: tuple[int, int], method: Image.Resampling) -> np.ndarray:
    h, w = size_hw
    planes = x[..., None] if x.ndim == 2 else x
    out = [np.asarray(Image.fromarray(np.ascontiguousarray(planes[..., c]), mode="F").resize((w, h), method))
           for c in range(planes.shape[2])]
    stacked = np.stack(out, axis=-1)
    return stacked[..., 0] if x.ndim == 2 else stacked


def _lens_blur(x: np.ndarray, radius: float) -> np.ndarray:
    """disc_blur, computed at 1/s resolution for big radii (the result is smooth anyway)."""
    s = int(np.ceil(radius / 3.0))
    if radius <= 3.0 or s < 2:
        return disc_blur(x, radius)
    h, w = x.shape[:2]
    small = _resize_float(x, (max(1, -(-h // s)), max(1, -(-w // s))), Image.Resampling.BOX)
    return _resize_float(disc_blur(small, radius / s), (h, w), Image.Resampling.BILINEAR)


def normalize_depth(depth: np.ndarray, *, larger_is_farther: bool = True) -> np.ndarray:
    """0 = nearest, 1 = farthest, from robust (1st/99th) percentiles of the map."""
    d = np.nan_to_num(depth.astype(np.float32))
    if not larger_is_farther:
        d = -d
    lo, hi = np.percentile(d, [1.0, 99.0])
    if hi - lo < 1e-6:
        return np.zeros_like(d)
    return np.clip((d - lo) / (hi - lo), 0.0, 1.0)


def focus_depth(depth01: np.ndarray, mask: np.ndarray | None) -> tuple[float, str]:
    """Median depth of the subject; without a usable mask, of the central ninth of the frame."""
    if mask is not None and (mask > 0.5).sum() >= 16:
        return float(np.median(depth01[mask > 0.5])), "subject mask"
    h, w = depth01.shape
    return float(np.median(depth01[h // 3 : 2 * h // 3, w // 3 : 2 * w // 3])), "frame centre"


def bokeh(
    rgb: np.ndarray,
    depth: np.ndarray,
    mask: np.ndarray | None = None,
    *,
    larger_is_farther: bool = True,
    max_radius: float | None = None,
    depth_of_field: float = 0.08,
    levels: int = 5,
    focus: float | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Portrait-mode background blur: radius grows with |depth - focus depth|.

    A few disc-blurred copies (radius 0 .. max_radius) are blended per pixel by the wanted
    radius. Each copy is a normalised convolution that leaves the subject out, so the sharp
    subject does not bleed a halo into the blurred background; the mask then keeps the
    subject itself sharp. Depth within `depth_of_field` (in normalised depth) of focus stays
    sharp.
    """
    _check(rgb, depth, mask)
    h, w = rgb.shape[:2]
    d = normalize_depth(depth, larger_is_farther=larger_is_farther)
    subject = _unit(mask) if mask is not None else None
    chosen, source = (float(focus), "given") if focus is not None else focus_depth(d, subject)
    max_radius = float(max_radius) if max_radius is not None else max(2.0, 0.02 * max(h, w))
    distance = np.clip((np.abs(d - chosen) - depth_of_field) / max(1.0 - depth_of_field, 1e-6), 0, 1)
    radius = max_radius * np.sqrt(distance)  # a lens blur grows fast, then levels off
    if subject is not None:
        radius *= 1.0 - subject
    linear = _linear(rgb)
    keep = (1.0 - subject) if subject is not None else np.ones((h, w), np.float32)
    radii = np.linspace(0.0, max_radius, max(2, levels))
    stack = [linear]
    for r in radii[1:]:
        both = _lens_blur(np.concatenate([linear * keep[..., None], keep[..., None]], axis=-1), r)
        weight = both[..., 3]
        blurred = both[..., :3] / np.maximum(weight, 1e-4)[..., None]
        # Where the whole disc was subject, there is no background to show: use a plain blur.
        plain = weight < 0.05
        if plain.any():
            blurred[plain] = _lens_blur(linear, r)[plain]
        stack.append(blurred)
    # Blend the two levels around each pixel's radius (tent weights over the level index).
    position = np.clip(radius / max_radius * (len(radii) - 1), 0, len(radii) - 1)
    out = np.zeros_like(linear)
    for k, layer in enumerate(stack):
        weight = np.clip(1.0 - np.abs(position - k), 0.0, 1.0)
        if weight.any():
            out += layer * weight[..., None]
    if subject is not None:
        out = linear * subject[..., None] + out * (1.0 - subject[..., None])
    params = {
        "focus_depth": round(chosen, 4),
        "focus_from": source,
        "max_radius_px": round(max_radius, 2),
        "levels": len(radii),
        "depth_of_field": depth_of_field,
        "depth_order": "larger is farther" if larger_is_farther else "larger is nearer",
        "mean_radius_px": round(float(radius.mean()), 3),
    }
    return _to_srgb8(out), params


def relight(
    rgb: np.ndarray,
    depth: np.ndarray,
    mask: np.ndarray | None = None,
    *,
    larger_is_farther: bool = True,
    falloff: float = 0.45,
    vignette: float = 0.25,
    subject_gain: float = 1.1,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Depth-graded light: the far background darkens by up to `falloff` (linear light), a
    radial vignette darkens the corners by up to `vignette`, the subject gets `subject_gain`."""
    _check(rgb, depth, mask)
    h, w = rgb.shape[:2]
    d = normalize_depth(depth, larger_is_farther=larger_is_farther)
    gain = 1.0 - falloff * d
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    rr = np.hypot((yy - (h - 1) / 2) / (h / 2), (xx - (w - 1) / 2) / (w / 2)) / np.sqrt(2.0)
    gain *= 1.0 - vignette * np.clip(rr, 0, 1) ** 2
    if mask is not None:
        m = _unit(mask)
        gain = gain * (1 - m) + subject_gain * m
    out = _linear(rgb) * gain[..., None]
    params = {
        "falloff": falloff,
        "vignette": vignette,
        "subject_gain": subject_gain if mask is not None else None,
        "gain_range": [round(float(gain.min()), 3), round(float(gain.max()), 3)],
    }
    return _to_srgb8(out), params
