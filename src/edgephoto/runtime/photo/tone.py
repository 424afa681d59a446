"""A tone curve chosen from the photo's own histogram: lift crushed shadows, pull back
near-clipped highlights, leave the mid-tones where they are.

The curve acts on LAB lightness only (colour is untouched) and is a monotone cubic through a
few percentile-driven control points (Fritsch-Carlson), so it is smooth and can never reverse
tones. A well-exposed photo gets (nearly) the identity curve.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgephoto.runtime.photo.colour import lab_to_rgb, rgb_to_lab


def monotone_curve(xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fritsch-Carlson slopes for a monotone piecewise-cubic Hermite through (xs, ys)."""
    xs, ys = np.asarray(xs, np.float64), np.asarray(ys, np.float64)
    h = np.diff(xs)
    delta = np.diff(ys) / h
    m = np.empty_like(xs)
    m[0], m[-1] = delta[0], delta[-1]
    m[1:-1] = (delta[:-1] + delta[1:]) / 2.0
    for k in range(len(delta)):
        if delta[k] == 0:
            m[k] = m[k + 1] = 0.0
            continue
        a, b = m[k] / delta[k], m[k + 1] / delta[k]
        s = a * a + b * b
        if s > 9.0:  # keeps the segment monotone
            t = 3.0 / np.sqrt(s)
            m[k], m[k + 1] = t * a * delta[k], t * b * delta[k]
    return xs, ys, m


def eval_curve(curve: tuple[np.ndarray, np.ndarray, np.ndarray], x: np.ndarray) -> np.ndarray:
    xs, ys, m = curve
    x = np.clip(x, xs[0], xs[-1])
    k = np.clip(np.searchsorted(xs, x, side="right") - 1, 0, len(xs) - 2)
    h = xs[k + 1] - xs[k]
    t = (x - xs[k]) / h
    t2, t3 = t * t, t * t * t
    return (
        (2 * t3 - 3 * t2 + 1) * ys[k]
        + (t3 - 2 * t2 + t) * h * m[k]
        + (-2 * t3 + 3 * t2) * ys[k + 1]
        + (t3 - t2) * h * m[k + 1]
    )


def choose_curve(
    lightness: np.ndarray,
    *,
    shadow_level: float = 8.0,
    highlight_level: float = 93.0,
    trigger: float = 0.03,
    max_lift: float = 10.0,
    max_recover: float = 8.0,
) -> dict[str, Any]:
    """Control points from the L* histogram. A side is corrected only if more than `trigger`
    of the pixels sit in its extreme band; the correction grows with that fraction, capped."""
    L = lightness.ravel()
    p2, median, p98 = (float(v) for v in np.percentile(L, [2.0, 50.0, 98.0]))
    crushed = float(np.mean(L < shadow_level))
    near_clip = float(np.mean((L > highlight_level) & (L < 99.5)))  # hard-clipped: nothing left
    lift = 0.0 if crushed <= trigger else min(max_lift, 40.0 * (crushed - trigger) + 1.0)
    recover = 0.0 if near_clip <= trigger else min(max_recover, 40.0 * (near_clip - trigger) + 1.0)
    median = float(np.clip(median, 25.0, 75.0))
    xs = [0.0]
    ys = [0.0]
    if lift:
        x_s = float(np.clip(max(p2, shadow_level), 3.0, median - 10.0))
        xs.append(x_s)
        ys.append(x_s + lift)
    xs.append(median)
    ys.append(median + (lift * 0.25 if lift else 0.0) - (recover * 0.15 if recover else 0.0))
    if recover:
        x_h = float(np.clip(min(p98, highlight_level), median + 10.0, 97.0))
        xs.append(x_h)
        ys.append(x_h - recover)
    xs.append(100.0)
    ys.append(100.0)
    return {
        "points": [[round(x, 2), round(y, 2)] for x, y in zip(xs, ys, strict=True)],
        "crushed_fraction": round(crushed, 4),
        "near_clip_fraction": round(near_clip, 4),
        "shadow_lift": round(lift, 2),
        "highlight_recovery": round(recover, 2),
        "percentiles": {"p2": round(p2, 2), "p50": round(float(np.median(L)), 2), "p98": round(p98, 2)},
    }


def tone_curve(rgb: np.ndarray, **options: Any) -> tuple[np.ndarray, dict[str, Any]]:
    """Apply the histogram-chosen curve to L*; returns (uint8 RGB, params with the curve)."""
    lab = rgb_to_lab(rgb)
    params = choose_curve(lab[..., 0], **options)
    points = np.asarray(params["points"], np.float64)
    if not params["shadow_lift"] and not params["highlight_recovery"]:
        return rgb.copy(), {**params, "applied": False}
    curve = monotone_curve(points[:, 0], points[:, 1])
    lab[..., 0] = eval_curve(curve, lab[..., 0].astype(np.float64)).astype(np.float32)
    return lab_to_rgb(lab), {**params, "applied": True, "method": "monotone-cubic-on-L*"}
