"""Photo pre-processing on real photos, with synthetic damage whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from edgephoto.metrics import psnr
from edgephoto.runtime.image_io import load_sample, read_photo
from edgephoto.runtime.photo import (
    capture_conditions,
    denoise,
    estimate_noise,
    lab_to_rgb,
    rgb_to_lab,
    tone_curve,
    white_balance,
)
from edgephoto.runtime.photo.colour import linear_to_srgb, srgb_to_linear
from edgephoto.runtime.photo.filters import box_mean, disc_blur, gaussian_blur
from edgephoto.runtime.photo.tone import eval_curve, monotone_curve
from shared_dir import EXIF_DIR, PORTRAITS


def real_photos() -> list[np.ndarray]:
    photos = [load_sample(n).rgb for n in ("astronaut", "coffee", "chelsea", "rocket")]
    return photos + [read_photo(PORTRAITS / f"{i}.jpg").rgb for i in (1, 5, 61, 78)]


def add_noise(rgb: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    noisy = rgb + np.random.default_rng(seed).normal(0.0, sigma, rgb.shape)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def mean_ab(rgb: np.ndarray) -> np.ndarray:
    return rgb_to_lab(rgb)[..., 1:].reshape(-1, 2).mean(axis=0)


def test_filters_preserve_mean_and_shape() -> None:
    impulse = np.zeros((41, 41), np.float32)
    impulse[20, 20] = 1.0
    for out in (box_mean(impulse, 3), gaussian_blur(impulse, 3.0), disc_blur(impulse, 8)):
        assert out.shape == impulse.shape and abs(out.sum() - 1.0) < 1e-4
    disc = disc_blur(impulse, 8) > 0
    assert disc[20].sum() == 17 and disc[:, 20].sum() == 17  # a round kernel, 2r+1 across
    assert abs(disc.sum() - np.pi * 64) < 0.05 * np.pi * 64
    yy, xx = np.mgrid[:41, :41]
    spread = np.sqrt((gaussian_blur(impulse, 3.0) * (xx - 20) ** 2).sum())
    assert 2.5 < spread < 3.8


@pytest.mark.parametrize("sigma", [3.0, 5.0, 10.0, 20.0])
@pytest.mark.shared("data/portraits")
def test_noise_estimate_within_15_percent(sigma: float) -> None:
    for index, rgb in enumerate(real_photos()):
        estimate = estimate_noise(add_noise(rgb, sigma, seed=index))["sigma"]
        assert abs(estimate / sigma - 1.0) < 0.15, f"photo {index}: {estimate:.2f} vs {sigma}"


@pytest.mark.shared("data/portraits")
def test_clean_photos_read_as_nearly_noiseless() -> None:
    for rgb in real_photos():
        assert estimate_noise(rgb)["sigma"] < 1.0


@pytest.mark.shared("data/portraits")
def test_denoise_removes_noise_and_leaves_clean_photos_alone() -> None:
    for index, rgb in enumerate(real_photos()[:5]):
        noisy = add_noise(rgb, 10.0, seed=index)
        out, params = denoise(noisy)
        assert params["applied"] and 8.5 < params["sigma_measured"] < 11.5
        gain = psnr(rgb, out) - psnr(rgb, noisy)
        assert gain > 2.0, f"photo {index}: only {gain:.2f} dB"
        same, clean_params = denoise(rgb)
        assert not clean_params["applied"] and np.array_equal(same, rgb)


def test_denoise_strength_follows_iso() -> None:
    noisy = add_noise(load_sample("coffee").rgb, 6.0)
    _, low = denoise(noisy, iso=100)
    _, high = denoise(noisy, iso=6400)
    assert high["iso_boost"] > low["iso_boost"] == 1.0
    assert high["eps_luma"] > low["eps_luma"]


@pytest.mark.shared("data/portraits", "data/exif")
def test_capture_conditions_from_real_exif() -> None:
    facts = read_photo(PORTRAITS / "61.jpg").exif  # Canon EOS-1Ds Mark II, ISO 320, f/2.8, 1/640
    assert facts["make"] == "Canon" and facts["iso"] == 320
    cond = capture_conditions(facts)
    # EV100 = log2(2.8^2 * 640) - log2(3.2) = 12.29 - 1.68
    assert cond["ev100"] == pytest.approx(10.61, abs=0.02) and not cond["low_light"]
    assert cond["iso_noise_factor"] == pytest.approx(1.789, abs=1e-3)
    assert capture_conditions(read_photo(EXIF_DIR / "Landscape_3.jpg").exif)["ev100"] is None


def test_lab_round_trip_and_known_values() -> None:
    rgb = load_sample("coffee").rgb
    assert np.abs(lab_to_rgb(rgb_to_lab(rgb)).astype(int) - rgb).max() <= 1
    known = rgb_to_lab(np.array([[[255, 255, 255], [0, 0, 0], [255, 0, 0], [128, 128, 128]]], np.uint8))[0]
    assert np.allclose(known[0], [100, 0, 0], atol=0.01) and np.allclose(known[1], 0, atol=0.01)
    assert np.allclose(known[2], [53.24, 80.09, 67.20], atol=0.05)  # sRGB red, D65
    assert np.allclose(known[3], [53.59, 0, 0], atol=0.05)


def apply_cast(rgb: np.ndarray, gains: tuple[float, float, float]) -> np.ndarray:
    """A colour cast the physical way: per-channel gains on linear light."""
    linear = srgb_to_linear(rgb / 255.0) * np.asarray(gains)
    return np.clip(np.rint(linear_to_srgb(linear) * 255.0), 0, 255).astype(np.uint8)


def test_white_balance_removes_a_cast_from_a_neutral_scene() -> None:
    rng = np.random.default_rng(3)
    grey = np.clip(np.linspace(30, 220, 200)[None, :, None] + rng.normal(0, 5, (150, 200, 1)), 0, 255)
    neutral = np.repeat(grey, 3, axis=2).astype(np.uint8)
    cast = apply_cast(neutral, (1.15, 1.0, 0.8))
    out, params = white_balance(cast, strength=1.0, max_shift=30.0)
    before = np.hypot(*mean_ab(cast))
    after = np.hypot(*mean_ab(out))
    assert before > 5 and after < 0.1 * before, (before, after, params)


@pytest.mark.shared("data/portraits")
def test_white_balance_on_real_near_neutral_photos() -> None:
    """Grey-world's premise is a near-neutral scene: on the real photos where that holds, a
    warm cast must be mostly removed."""
    tested = 0
    for rgb in real_photos():
        if np.hypot(*mean_ab(rgb)) > 4.0:
            continue
        tested += 1
        cast = apply_cast(rgb, (1.2, 1.0, 0.8))
        out, params = white_balance(cast)
        cast_size = np.hypot(*(mean_ab(cast) - mean_ab(rgb)))
        left = np.hypot(*(mean_ab(out) - mean_ab(rgb)))
        assert cast_size > 5 and left < 0.35 * cast_size, (cast_size, left, params)
    assert tested >= 2


def test_white_balance_is_limited_on_a_colourful_scene() -> None:
    rgb = load_sample("coffee").rgb  # warm by nature: mean a*, b* around 27, 33
    out, params = white_balance(rgb, max_shift=6.0)
    assert params["limited"] and np.hypot(*params["shift_ab"]) == pytest.approx(6.0, abs=1e-3)
    assert np.hypot(*(mean_ab(out) - mean_ab(rgb))) < 6.5


@pytest.mark.shared("data/portraits")
def test_white_patch_neutralises_the_brightest_pixels() -> None:
    rgb = read_photo(PORTRAITS / "61.jpg").rgb
    cast = apply_cast(rgb, (1.0, 0.95, 0.8))
    out, params = white_balance(cast, method="whitepatch", strength=1.0, max_shift=30.0)
    assert params["method"] == "whitepatch"
    lab_in, lab_out = rgb_to_lab(cast), rgb_to_lab(out)
    bright = lab_in[..., 0] >= np.percentile(lab_in[..., 0], 97)
    assert np.hypot(*lab_out[bright][:, 1:].mean(0)) < 0.5 * np.hypot(*lab_in[bright][:, 1:].mean(0))


def test_monotone_curve_never_reverses() -> None:
    curve = monotone_curve(np.array([0, 8, 40, 93, 100.0]), np.array([0, 18, 41, 86, 100.0]))
    x = np.linspace(0, 100, 2001)
    y = eval_curve(curve, x)
    assert np.all(np.diff(y) >= -1e-9) and y[0] == 0 and y[-1] == 100


def lightness(rgb: np.ndarray) -> np.ndarray:
    return rgb_to_lab(rgb)[..., 0]


@pytest.mark.shared("data/portraits")
def test_tone_lifts_crushed_shadows() -> None:
    for rgb in real_photos()[:6]:
        dark = np.clip(np.rint(255 * (rgb / 255.0) ** 2.2), 0, 255).astype(np.uint8)
        out, params = tone_curve(dark)
        assert params["applied"] and params["shadow_lift"] > 0
        assert np.mean(lightness(out) < 8) < 0.9 * np.mean(lightness(dark) < 8)
        assert np.array_equal(out[dark.sum(-1) == 0], np.zeros_like(out[dark.sum(-1) == 0]))


@pytest.mark.shared("data/portraits")
def test_tone_recovers_near_clipped_highlights() -> None:
    rgb = read_photo(PORTRAITS / "61.jpg").rgb
    bright = np.clip(np.rint(255 * (rgb / 255.0) ** 0.4), 0, 255).astype(np.uint8)
    out, params = tone_curve(bright)
    assert params["highlight_recovery"] > 0
    L_in, L_out = lightness(bright), lightness(out)
    top = L_in > 80
    assert L_out[top].std() > 1.2 * L_in[top].std()  # highlight detail spread back out
    assert np.mean((L_out > 93) & (L_out < 99.5)) < 0.6 * np.mean((L_in > 93) & (L_in < 99.5))


def test_tone_leaves_a_well_exposed_photo_alone() -> None:
    rgb = load_sample("chelsea").rgb
    out, params = tone_curve(rgb)
    assert not params["applied"] and np.array_equal(out, rgb)
