from __future__ import annotations

import numpy as np
import pytest

from edgephoto import metrics


def test_psnr_known_value() -> None:
    a = np.zeros((8, 8))
    b = np.full((8, 8), 255.0 / 10)  # mse = (25.5)^2 -> 20 dB
    assert metrics.psnr(a, b) == pytest.approx(20.0)
    assert metrics.psnr(a, a) == float("inf")


def test_ssim_identity_and_noise() -> None:
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 255, (40, 40))
    assert metrics.ssim(image, image) == pytest.approx(1.0)
    noisy = np.clip(image + rng.normal(0, 40, image.shape), 0, 255)
    assert metrics.ssim(image, noisy) < 0.9


def test_iou_and_boundary() -> None:
    a = np.zeros((20, 20), bool)
    a[5:15, 5:15] = True
    b = np.zeros_like(a)
    b[5:15, 10:20] = True
    assert metrics.iou(a, b) == pytest.approx(50 / 150)
    assert metrics.boundary_f(a, a) == 1.0
    assert metrics.boundary_f(a, np.roll(a, 1, axis=1), tolerance=1) == 1.0
    assert metrics.boundary_f(a, np.roll(a, 6, axis=1), tolerance=1) < 0.6


def test_depth_metrics_invariant_to_scale_shift() -> None:
    rng = np.random.default_rng(1)
    depth = rng.uniform(1, 10, (16, 16))
    result = metrics.depth_metrics(depth * 3 + 2, depth)
    assert result["delta1"] == pytest.approx(1.0)
    assert result["absrel"] < 1e-6  # float32 alignment output
    assert result["spearman"] == pytest.approx(1.0)
    assert metrics.spearman(depth, -depth) == pytest.approx(-1.0)


def test_matting_errors() -> None:
    alpha = np.linspace(0, 1, 100).reshape(10, 10)
    assert metrics.sad(alpha, alpha) == 0.0
    assert metrics.sad(alpha, np.zeros_like(alpha)) == pytest.approx(alpha.sum() / 1000)
    assert metrics.gradient_error(alpha, alpha) == 0.0


def test_sharpness_reads_slope_and_drops_with_blur() -> None:
    from PIL import Image, ImageFilter

    from edgephoto.runtime.image_io import load_sample

    ramp = np.repeat(np.tile(np.arange(64, dtype=np.float64), (64, 1))[..., None], 3, axis=2)
    assert metrics.sharpness(ramp) == pytest.approx(219.0 / 255.0)  # luma is studio-swing: 219 of 255
    assert metrics.sharpness(np.full((16, 16, 3), 128.0)) == 0.0
    photo = load_sample("astronaut").rgb
    blurred = np.asarray(Image.fromarray(photo).filter(ImageFilter.GaussianBlur(2)))
    assert metrics.sharpness(blurred) < 0.7 * metrics.sharpness(photo)  # measured: 4.13 vs 6.73
    assert metrics.sharpness(photo, border=4) > 0
    with pytest.raises(ValueError, match="at least 3x3"):
        metrics.sharpness(np.zeros((2, 9, 3)))


@pytest.mark.parametrize("scale", [2, 3, 4, 6])
def test_sr_pair_crops_to_the_scale_and_is_pil_bicubic(scale: int) -> None:
    from PIL import Image

    hr = np.random.default_rng(scale).integers(0, 256, (61, 50, 3), dtype=np.uint8)
    cropped, lr = metrics.sr_pair(hr, scale)
    h, w = 61 // scale * scale, 50 // scale * scale
    assert cropped.shape == (h, w, 3) and lr.shape == (h // scale, w // scale, 3) and lr.dtype == np.uint8
    np.testing.assert_array_equal(cropped, hr[:h, :w])  # the top-left crop, pixels untouched
    direct = Image.fromarray(hr).crop((0, 0, w, h)).resize((w // scale, h // scale), Image.Resampling.BICUBIC)
    np.testing.assert_array_equal(lr, np.asarray(direct))
    up = metrics.bicubic_upscale(lr, scale)
    assert up.shape == cropped.shape
    np.testing.assert_array_equal(up, np.asarray(direct.resize((w, h), Image.Resampling.BICUBIC)))
