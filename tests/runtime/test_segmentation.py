"""Segmentation's full-resolution stage: the one-pass bilinear upsample and the task defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from edgephoto.runtime.refine import resize, upsample_bilinear
from edgephoto.runtime.tasks import TASKS
from edgephoto.runtime.tasks.segmentation import low_res_mask, segment, upsample_mask

PORTRAITS = Path(__file__).resolve().parents[3] / "shared" / "data" / "portraits"
RNG = np.random.default_rng(11)


@pytest.mark.parametrize(("low_hw", "size"), [((256, 256), (1055, 1280)), ((256, 256), (257, 999)),
                                              ((7, 5), (64, 33)), ((1, 1), (4, 3)), ((30, 40), (30, 40))])
def test_upsample_equals_pillow_bilinear_when_enlarging(low_hw: tuple[int, int], size: tuple[int, int]) -> None:
    low = RNG.uniform(size=low_hw).astype(np.float32)
    out = upsample_bilinear(low, size)
    assert out.shape == size and out.dtype == np.float32
    np.testing.assert_allclose(out, resize(low, size, "bilinear"), atol=2e-6)


def test_upsample_shrinking_stays_close_and_far_shrinks_go_to_pillow() -> None:
    yy, xx = np.mgrid[0:256, 0:256]
    smooth = (0.5 + 0.5 * np.sin(xx / 9.0) * np.cos(yy / 13.0)).astype(np.float32)  # a model-like map
    near = upsample_bilinear(smooth, (183, 276))  # one axis shrinks by 1.4x: vectorised taps
    assert np.abs(near - resize(smooth, (183, 276), "bilinear")).max() < 0.02
    far = upsample_bilinear(smooth, (100, 300))  # beyond 2x Pillow's anti-alias is used as is
    np.testing.assert_array_equal(far, resize(smooth, (100, 300), "bilinear"))


def test_upsample_mask_stays_within_0_1_and_reads_no_pixels() -> None:
    low = RNG.choice([0.0, 1.0, 0.99999994], size=(32, 32)).astype(np.float32)
    photo = np.zeros((97, 131, 3), np.uint8)
    mask = upsample_mask(photo, low)
    assert 0.0 <= mask.min() and mask.max() <= 1.0
    np.testing.assert_array_equal(mask, upsample_mask(np.full_like(photo, 200), low))  # size only


@pytest.mark.real
@pytest.mark.shared("data/portraits")
def test_selfie_single_pass_is_one_bilinear_pass_and_matting_keeps_the_guided_filter(zoo_weights: Any) -> None:
    from edgephoto.runtime.backends.base import load_backend

    pytest.importorskip("ai_edge_litert")
    spec, root = zoo_weights("selfie-landscape")
    backend = load_backend("litert", root / spec.files[0].path, threads=1)
    rgb = np.asarray(Image.open(PORTRAITS / "images" / "101.jpg").convert("RGB"))
    low = low_res_mask(backend, spec, rgb)
    default = segment(backend, spec, rgb, zoom=False)  # the single pass (zoom: test_segmentation_zoom.py)
    np.testing.assert_allclose(default, np.clip(resize(low, rgb.shape[:2], "bilinear"), 0, 1), atol=2e-6)
    guided = segment(backend, spec, rgb, refine=True, zoom=False)
    assert np.abs(guided - default).max() > 0.05  # the option still does something
    np.testing.assert_array_equal(TASKS.get("matting").run(backend, spec, rgb), guided)  # matting: no zoom


def test_sampled_fit_shrinks_large_photos_close_to_bilinear_and_leaves_small_ones() -> None:
    from edgephoto.runtime.tasks.common import fit_to_input

    yy, xx = np.mgrid[0:700, 0:900]
    photo = np.stack([xx * 255 / 899, yy * 255 / 699, (xx + yy) * 255 / 1598], -1).astype(np.uint8)
    sampled, box = fit_to_input(photo, (256, 256), sampled=True)
    filtered, same_box = fit_to_input(photo, (256, 256))
    assert sampled.shape == (256, 256, 3) and box == same_box
    assert np.abs(sampled - filtered).max() <= 2.0  # a smooth photo: point samples agree with the filter
    small = photo[:400, :500]  # under twice the input on both sides: the filter as always
    np.testing.assert_array_equal(fit_to_input(small, (256, 256), sampled=True)[0], fit_to_input(small, (256, 256))[0])
