"""Effects on real portraits with their (close to true) person masks and synthetic depth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgephoto.errors import InvalidOptionError
from edgephoto.runtime.effects import (
    bokeh,
    normalize_depth,
    relight,
    remove_background,
    replace_background,
)
from edgephoto.runtime.image_io import load_sample, read_photo, write_image_atomic
from shared_dir import DATA as SHARED_DATA

DATA = SHARED_DATA / "portraits"


def portrait(index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rgb, mask 0..1, depth in metres: subject at 1 m, background 2 m (left) .. 8 m (right))."""
    rgb = read_photo(DATA / "images" / f"{index}.jpg").rgb
    h, w = rgb.shape[:2]
    mask_img = Image.open(DATA / "masks" / f"{index}.png").convert("L").resize((w, h), Image.Resampling.NEAREST)
    mask = (np.asarray(mask_img) > 127).astype(np.float32)
    ramp = np.broadcast_to(2.0 + 6.0 * np.linspace(0.0, 1.0, w, dtype=np.float32), (h, w))
    return rgb, mask, np.where(mask > 0.5, 1.0, ramp).astype(np.float32)


def sharpness(rgb: np.ndarray, region: np.ndarray) -> float:
    g = rgb.astype(np.float64).mean(axis=2)
    lap = np.abs(4 * g[1:-1, 1:-1] - g[:-2, 1:-1] - g[2:, 1:-1] - g[1:-1, :-2] - g[1:-1, 2:])
    return float(lap[region[1:-1, 1:-1]].mean())


@pytest.mark.parametrize("index", [1, 61])
@pytest.mark.shared("data/portraits")
def test_bokeh_blurs_background_by_depth_and_keeps_subject(index: int) -> None:
    rgb, mask, depth = portrait(index)
    out, params = bokeh(rgb, depth, mask)
    assert params["focus_from"] == "subject mask" and params["focus_depth"] == pytest.approx(0.0, abs=0.01)
    subject = mask > 0.5
    assert np.abs(out[subject].astype(int) - rgb[subject]).max() <= 1
    background = ~subject
    assert sharpness(out, background) < 0.6 * sharpness(rgb, background)
    # The same background content placed near the subject is blurred less than placed far:
    # mirror the depth ramp and compare each side third with itself.
    h, w = mask.shape
    ramp = np.linspace(1.2, 8.0, w, dtype=np.float32)
    left_near = np.where(subject, 1.0, np.broadcast_to(ramp, (h, w))).astype(np.float32)
    left_far = np.where(subject, 1.0, np.broadcast_to(ramp[::-1], (h, w))).astype(np.float32)
    out_a, _ = bokeh(rgb, left_near, mask)
    out_b, _ = bokeh(rgb, left_far, mask)
    left = background.copy()
    left[:, w // 3 :] = False
    right = background.copy()
    right[:, : 2 * w // 3] = False
    assert sharpness(out_b, left) < 0.8 * sharpness(out_a, left)
    assert sharpness(out_a, right) < 0.8 * sharpness(out_b, right)


def test_bokeh_has_no_subject_halo() -> None:
    """A white subject on a black background: the blurred background next to it stays black."""
    rgb = np.zeros((200, 200, 3), np.uint8)
    yy, xx = np.mgrid[:200, :200]
    mask = ((yy - 100) ** 2 + (xx - 100) ** 2 < 40**2).astype(np.float32)
    rgb[mask > 0] = 255
    depth = np.where(mask > 0, 1.0, 5.0).astype(np.float32)
    out, _ = bokeh(rgb, depth, mask, max_radius=12)
    ring = ((yy - 100) ** 2 + (xx - 100) ** 2 > 42**2) & ((yy - 100) ** 2 + (xx - 100) ** 2 < 55**2)
    assert out[ring].max() <= 2
    assert np.array_equal(out[mask > 0], rgb[mask > 0])


def test_bokeh_without_mask_focuses_the_centre_and_accepts_disparity() -> None:
    rgb = load_sample("rocket").rgb
    h, w = rgb.shape[:2]
    disparity = np.broadcast_to(np.linspace(1.0, 0.1, h, dtype=np.float32)[:, None], (h, w))
    out, params = bokeh(rgb, np.ascontiguousarray(disparity), None, larger_is_farther=False)
    assert params["focus_from"] == "frame centre" and params["depth_order"] == "larger is nearer"
    middle = np.zeros((h, w), bool)
    middle[h // 2 - 10 : h // 2 + 10] = True
    top = np.zeros((h, w), bool)
    top[:40] = True  # near in disparity terms is the top (1.0): far from the focus
    assert sharpness(out, top) / sharpness(rgb, top) < sharpness(out, middle) / sharpness(rgb, middle)


def test_normalize_depth_orders() -> None:
    d = np.linspace(0.5, 10, 100, dtype=np.float32).reshape(10, 10)
    assert normalize_depth(d)[0, 0] == 0 and normalize_depth(d)[-1, -1] == 1
    assert normalize_depth(d, larger_is_farther=False)[0, 0] == 1


@pytest.mark.shared("data/portraits")
def test_remove_background_writes_rgba(tmp_path: Path) -> None:
    rgb, mask, _ = portrait(5)
    rgba, params = remove_background(rgb, mask)
    assert rgba.shape == (*rgb.shape[:2], 4) and np.array_equal(rgba[..., :3], rgb)
    assert np.array_equal(rgba[..., 3], (mask * 255).astype(np.uint8))
    assert params["foreground_fraction"] == pytest.approx(float(mask.mean()), abs=1e-3)
    back = read_photo(write_image_atomic(tmp_path / "cut.png", rgba))
    assert back.alpha is not None and np.array_equal(back.alpha, rgba[..., 3])


@pytest.mark.shared("data/portraits")
def test_replace_background_with_colour_and_image() -> None:
    rgb, mask, _ = portrait(1)
    out, params = replace_background(rgb, mask, (0, 128, 255))
    assert np.array_equal(out[mask > 0.5], rgb[mask > 0.5])
    assert (np.abs(out[mask < 0.5].astype(int) - [0, 128, 255]).max(axis=1) <= 1).all()
    assert params["background"] == "colour (0, 128, 255)"
    scene = load_sample("rocket").rgb  # 640x427 onto a photo of another shape: cover-fit
    out2, params2 = replace_background(rgb, mask, scene)
    assert out2.shape == rgb.shape and params2["background"] == "image 640x427"
    soft = np.full(mask.shape, 0.5, np.float32)
    mid, _ = replace_background(rgb, soft, (0, 0, 0))
    assert (mid <= rgb).all() and mid.mean() > 0.5 * rgb.mean()  # linear-light blend: half light


@pytest.mark.shared("data/portraits")
def test_relight_darkens_with_distance() -> None:
    grey = np.full((100, 200, 3), 160, np.uint8)
    depth = np.broadcast_to(np.linspace(1, 9, 200, dtype=np.float32), (100, 200)).copy()
    out, params = relight(grey, depth, vignette=0.0)
    row = out[50, :, 0].astype(int)
    linear_160 = ((160 / 255 + 0.055) / 1.055) ** 2.4
    expected_far = round(255 * (1.055 * (0.55 * linear_160) ** (1 / 2.4) - 0.055))  # falloff 0.45
    assert np.all(np.diff(row) <= 0) and row[0] == 160 and abs(row[-1] - expected_far) <= 1
    rgb, mask, depth = portrait(61)
    lit, params = relight(rgb, depth, mask)
    subject, background = mask > 0.5, mask < 0.5
    assert lit[subject].mean() > rgb[subject].mean() and lit[background].mean() < rgb[background].mean()
    assert params["gain_range"][1] == pytest.approx(1.1)


def test_shape_mismatch_is_refused() -> None:
    rgb = load_sample("coffee").rgb
    with pytest.raises(InvalidOptionError, match="does not match"):
        bokeh(rgb, np.zeros((10, 10), np.float32))
