"""Task metrics, numpy only, shared by parity checks, quantization guards and benchmarks.

Upscale: PSNR / SSIM (on RGB 0-255 or on BT.601 luma with a shaved border, the SR papers'
protocol). Segmentation: IoU and boundary F-score. Depth: delta1, AbsRel, Spearman rho after
scale/shift alignment. Matting: SAD and gradient error. No-reference: sharpness (mean luma
gradient), for GAN-trained upscalers whose PSNR says little about how sharp they look. The SR
test pair (sr_pair, bicubic_upscale) is the one exception: it imports Pillow, inside it.
"""

from __future__ import annotations

import numpy as np


def rgb_to_luma(rgb: np.ndarray) -> np.ndarray:
    """BT.601 studio-swing luma (16-235) from RGB 0-255, as used by the SR benchmarks."""
    rgb = rgb.astype(np.float64)
    return 16.0 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255.0


def shave(image: np.ndarray, border: int) -> np.ndarray:
    return image[border:-border, border:-border] if border > 0 else image


def psnr(reference: np.ndarray, test: np.ndarray, peak: float = 255.0) -> float:
    mse = float(np.mean((reference.astype(np.float64) - test.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(peak * peak / mse)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    axis = np.arange(size) - size // 2
    kernel = np.exp(-(axis**2) / (2 * sigma**2))
    return kernel / kernel.sum()


def _filter_valid(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Separable 'valid' convolution of a 2-D image."""
    rows = np.apply_along_axis(lambda r: np.convolve(r, kernel, mode="valid"), 1, image)
    return np.apply_along_axis(lambda c: np.convolve(c, kernel, mode="valid"), 0, rows)


def ssim(reference: np.ndarray, test: np.ndarray, peak: float = 255.0) -> float:
    """Mean SSIM (Wang et al. 2004, 11x11 Gaussian, sigma 1.5); channels averaged."""
    ref = reference.astype(np.float64)
    out = test.astype(np.float64)
    if ref.ndim == 3:
        return float(np.mean([ssim(ref[..., c], out[..., c], peak) for c in range(ref.shape[2])]))
    kernel = _gaussian_window()
    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
    mu_x, mu_y = _filter_valid(ref, kernel), _filter_valid(out, kernel)
    sxx = _filter_valid(ref * ref, kernel) - mu_x**2
    syy = _filter_valid(out * out, kernel) - mu_y**2
    sxy = _filter_valid(ref * out, kernel) - mu_x * mu_y
    num = (2 * mu_x * mu_y + c1) * (2 * sxy + c2)
    den = (mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2)
    return float(np.mean(num / den))


def psnr_y(reference_rgb: np.ndarray, test_rgb: np.ndarray, border: int) -> float:
    """PSNR on BT.601 luma with `border` pixels shaved: the standard SR protocol."""
    return psnr(shave(rgb_to_luma(reference_rgb), border), shave(rgb_to_luma(test_rgb), border))


def sharpness(rgb: np.ndarray, border: int = 0) -> float:
    """No-reference sharpness: mean Sobel gradient magnitude of BT.601 luma (Tenengrad-style).

    Needs no ground truth, so it compares upscalers on any photo; a blur lowers it, a sharper
    (or noisier) image raises it, which is why it is read beside PSNR and the HR's own figure.
    """
    y = shave(rgb_to_luma(rgb), border)
    if y.shape[0] < 3 or y.shape[1] < 3:
        raise ValueError(f"sharpness needs an image of at least 3x3 px, got {y.shape[1]}x{y.shape[0]}")
    # Sobel as its separable [1 2 1] smooth and [-1 0 1] difference, on the valid interior
    smooth_rows = y[:-2] + 2.0 * y[1:-1] + y[2:]
    smooth_cols = y[:, :-2] + 2.0 * y[:, 1:-1] + y[:, 2:]
    gx = smooth_rows[:, 2:] - smooth_rows[:, :-2]
    gy = smooth_cols[2:] - smooth_cols[:-2]
    return float(np.mean(np.hypot(gx, gy)) / 8.0)  # /8: the kernel's gain, so a ramp of one luma level per px reads 1


def sr_pair(hr: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """The SR papers' test pair: HR cropped (top-left) to a multiple of `scale`, and its LR by
    PIL bicubic down by `scale`. One place for the protocol every Set5 figure here is measured by."""
    from PIL import Image

    h, w = hr.shape[0] // scale * scale, hr.shape[1] // scale * scale
    hr = np.ascontiguousarray(hr[:h, :w])
    return hr, np.asarray(Image.fromarray(hr).resize((w // scale, h // scale), Image.Resampling.BICUBIC))


def bicubic_upscale(lr: np.ndarray, scale: int) -> np.ndarray:
    """PIL bicubic up by `scale`: the baseline an upscaler's PSNR is read against."""
    from PIL import Image

    h, w = lr.shape[:2]
    return np.asarray(Image.fromarray(lr).resize((w * scale, h * scale), Image.Resampling.BICUBIC))


def iou(mask_a: np.ndarray, mask_b: np.ndarray) -> float:
    a, b = mask_a.astype(bool), mask_b.astype(bool)
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def _boundary(mask: np.ndarray) -> np.ndarray:
    m = mask.astype(bool)
    padded = np.pad(m, 1, mode="edge")
    eroded = (
        padded[1:-1, 1:-1] & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    )
    return m & ~eroded


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    out = mask.copy()
    for _ in range(radius):
        p = np.pad(out, 1)
        out = p[1:-1, 1:-1] | p[:-2, 1:-1] | p[2:, 1:-1] | p[1:-1, :-2] | p[1:-1, 2:]
    return out


def boundary_f(mask_pred: np.ndarray, mask_true: np.ndarray, tolerance: int = 3) -> float:
    """Boundary F-score: boundary pixels matched within `tolerance` px (DAVIS-style)."""
    bp, bt = _boundary(mask_pred), _boundary(mask_true)
    if bp.sum() == 0 and bt.sum() == 0:
        return 1.0
    if bp.sum() == 0 or bt.sum() == 0:
        return 0.0
    precision = float((bp & _dilate(bt, tolerance)).sum() / bp.sum())
    recall = float((bt & _dilate(bp, tolerance)).sum() / bt.sum())
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def align_scale_shift(pred: np.ndarray, target: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Least-squares scale and shift mapping `pred` onto `target` (relative depth alignment)."""
    mask = np.ones(pred.shape, bool) if valid is None else valid.astype(bool)
    x, y = pred[mask].astype(np.float64), target[mask].astype(np.float64)
    design = np.stack([x, np.ones_like(x)], axis=1)
    (scale, shift), *_ = np.linalg.lstsq(design, y, rcond=None)
    return (pred.astype(np.float64) * scale + shift).astype(np.float32)


def _ranks(values: np.ndarray) -> np.ndarray:
    order = values.argsort(kind="stable")
    ranks = np.empty(len(values), np.float64)
    ranks[order] = np.arange(len(values))
    # average ties so constant regions do not inflate the correlation
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return (sums / counts)[inverse]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = _ranks(a.ravel()), _ranks(b.ravel())
    ra -= ra.mean()
    rb -= rb.mean()
    den = np.sqrt((ra * ra).sum() * (rb * rb).sum())
    return 0.0 if den == 0 else float((ra * rb).sum() / den)


def depth_metrics(pred: np.ndarray, target: np.ndarray, valid: np.ndarray | None = None) -> dict[str, float]:
    """delta1 and AbsRel after scale/shift alignment, and Spearman rho, over valid pixels."""
    mask = (target > 0) if valid is None else valid.astype(bool) & (target > 0)
    aligned = align_scale_shift(pred, target, mask)
    t = target[mask].astype(np.float64)
    p = np.maximum(aligned[mask].astype(np.float64), 1e-6)
    ratio = np.maximum(p / t, t / p)
    return {
        "delta1": float(np.mean(ratio < 1.25)),
        "absrel": float(np.mean(np.abs(p - t) / t)),
        "spearman": spearman(pred[mask], target[mask]),
    }


def sad(alpha_pred: np.ndarray, alpha_true: np.ndarray) -> float:
    """Sum of absolute differences of alphas in 0..1, in thousands (the matting convention)."""
    return float(np.abs(alpha_pred.astype(np.float64) - alpha_true.astype(np.float64)).sum() / 1000.0)


def gradient_error(alpha_pred: np.ndarray, alpha_true: np.ndarray) -> float:
    """Sum of squared differences of alpha gradient magnitudes, in thousands."""

    def magnitude(a: np.ndarray) -> np.ndarray:
        gy, gx = np.gradient(a.astype(np.float64))
        return np.hypot(gx, gy)

    return float(((magnitude(alpha_pred) - magnitude(alpha_true)) ** 2).sum() / 1000.0)


def abs_errors(reference: np.ndarray, test: np.ndarray) -> dict[str, float]:
    """Max and mean absolute difference: the raw parity numbers."""
    diff = np.abs(reference.astype(np.float64) - test.astype(np.float64))
    return {"max_abs": float(diff.max()), "mean_abs": float(diff.mean())}
