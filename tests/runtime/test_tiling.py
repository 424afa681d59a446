"""Tiling is exact for pointwise models and for conv models whose field fits in the margin."""

from __future__ import annotations

import weakref

import numpy as np
import pytest

from edgephoto.errors import InvalidOptionError
from edgephoto.runtime.tiling import (
    axis_starts,
    axis_weights,
    crop,
    even_tiles,
    margin_for,
    reflect_index,
    tile_from_budget,
    tile_grid,
    tile_image,
    untiled,
)

RNG = np.random.default_rng(7)


def pointwise_x2(tiles: np.ndarray) -> np.ndarray:
    """An affine per-pixel 'model' with nearest x2 upsampling and 2 output channels."""
    out = np.concatenate([tiles[..., :1] * 0.5 + 3.0, tiles.sum(-1, keepdims=True)], axis=-1)
    return np.repeat(np.repeat(out, 2, axis=1), 2, axis=2)


def box5(tiles: np.ndarray) -> np.ndarray:
    """A 5x5 mean with zero padding at the tile edge: receptive field 5 (radius 2)."""
    padded = np.pad(tiles, ((0, 0), (2, 2), (2, 2), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (5, 5), axis=(1, 2))
    return windows.mean(axis=(-1, -2))


@pytest.mark.parametrize("shape", [(301, 417, 3), (1, 1, 3), (1, 200, 3), (150, 1, 3), (17, 23, 3), (64, 64, 3), (65, 97, 3)])
def test_pointwise_model_tiles_like_untiled(shape: tuple[int, int, int]) -> None:
    image = RNG.uniform(0, 255, shape).astype(np.float32)
    tiled = tile_image(image, pointwise_x2, tile=32, overlap=8, scale=2, batch=3)
    expected = pointwise_x2(image[None])[0]
    assert tiled is not None and tiled.shape == expected.shape
    np.testing.assert_allclose(tiled, expected, rtol=1e-6, atol=1e-4)


@pytest.mark.parametrize("shape", [(130, 211, 3), (9, 40, 1), (1, 77, 2), (33, 33, 3)])
def test_conv_model_within_margin_matches_untiled(shape: tuple[int, int, int]) -> None:
    image = RNG.uniform(0, 255, shape).astype(np.float32)
    margin = margin_for(5, 12)
    assert margin == 2
    tiled = tile_image(image, box5, tile=32, overlap=12, margin=margin)
    reference = untiled(image, box5, overlap=12)
    np.testing.assert_allclose(tiled, reference, atol=2e-4)


def test_without_margin_tile_edges_leak_into_the_blend() -> None:
    image = RNG.uniform(0, 255, (130, 211, 3)).astype(np.float32)
    reference = untiled(image, box5, overlap=12)
    leaky = tile_image(image, box5, tile=32, overlap=12, margin=0)
    assert np.abs(leaky - reference).max() > 0.5


def test_tiles_are_uniform_and_cover_the_photo() -> None:
    seen: list[tuple[int, ...]] = []

    def record(tiles: np.ndarray) -> np.ndarray:
        seen.append(tiles.shape)
        return tiles

    tile_image(RNG.uniform(size=(100, 70, 3)).astype(np.float32), record, tile=(32, 24), overlap=8, batch=2)
    assert {s[1:] for s in seen} == {(32, 24, 3)}
    assert max(s[0] for s in seen) == 2
    grid = tile_grid(100, 70, (32, 24), 8)
    assert sum(s[0] for s in seen) == len(grid)
    # the last row/column is shifted back inside the padded photo, not shrunk
    assert grid[-1].y + 32 == 100 + 4 and grid[-1].x + 24 == 70 + 4


def test_small_photo_is_one_reflect_padded_tile() -> None:
    assert axis_starts(5, 32, 8) == [-4]
    image = np.arange(15, dtype=np.float32).reshape(5, 3, 1)
    window = crop(image, -4, -4, 32, 32)
    assert window.shape == (32, 32, 1)
    expected = np.pad(image[..., 0], ((4, 0), (4, 0)), mode="reflect")
    np.testing.assert_array_equal(window[:9, :7, 0], expected)


def test_reflect_index_matches_numpy_reflect() -> None:
    for n in (1, 2, 5):
        values = np.arange(n)
        padded = np.pad(values, 11, mode="reflect") if n > 1 else np.zeros(n + 22, int)
        np.testing.assert_array_equal(values[reflect_index(np.arange(-11, n + 11), n)], padded)


@pytest.mark.parametrize("length,tile,overlap,scale,margin", [(1, 16, 4, 1, 0), (100, 32, 8, 1, 2), (129, 32, 12, 3, 3), (33, 32, 16, 2, 8), (500, 64, 20, 1, 0)])
@pytest.mark.parametrize("ramp", ["linear", "cosine"])
def test_weights_are_a_partition_of_unity(length: int, tile: int, overlap: int, scale: int, margin: int, ramp: str) -> None:
    starts = axis_starts(length, tile, overlap)
    weights = axis_weights(length, starts, tile, overlap, scale=scale, margin=margin, ramp=ramp)
    np.testing.assert_allclose(weights.sum(axis=0), 1.0, atol=1e-6)
    assert weights.min() >= 0
    # within `margin` input px of an interior tile edge a tile has no say
    for i, start in enumerate(starts[1:], 1):
        lo = max(start * scale, 0)
        assert np.all(weights[i, lo : lo + margin * scale] == 0)


def test_ramp_is_feathered_not_a_cut() -> None:
    starts = axis_starts(200, 64, 24)
    weights = axis_weights(200, starts, 64, 24, margin=2)
    shared = (weights[0] > 0) & (weights[1] > 0)
    assert shared.sum() == 24 - 2 * 2  # the whole overlap minus the margins blends
    assert np.all(np.diff(weights[1][shared]) > 0)


def test_bad_layouts_are_refused() -> None:
    with pytest.raises(InvalidOptionError):
        axis_starts(100, 32, 32)
    with pytest.raises(InvalidOptionError):
        axis_weights(100, axis_starts(100, 32, 8), 32, 8, margin=5)
    with pytest.raises(InvalidOptionError):
        tile_image(np.zeros((40, 40, 3), np.float32), lambda t: t[:, :-1], tile=16, overlap=4)


def test_batching_does_not_change_the_result() -> None:
    image = RNG.uniform(0, 255, (90, 130, 3)).astype(np.float32)
    one = tile_image(image, box5, tile=32, overlap=12, margin=2, batch=1)
    many = tile_image(image, box5, tile=32, overlap=12, margin=2, batch=4)
    np.testing.assert_array_equal(one, many)


def test_memory_is_bounded_to_a_row_band_and_a_batch() -> None:
    """No tile or tile output outlives its batch; band buffers are one tile row high."""
    alive: list[weakref.ref[np.ndarray]] = []
    peak = {"tiles": 0}
    batch, tile, scale = 3, 16, 2

    def tracked(tiles: np.ndarray) -> np.ndarray:
        live = sum(ref() is not None for ref in alive)
        peak["tiles"] = max(peak["tiles"], live)
        out = np.repeat(np.repeat(tiles, scale, axis=1), scale, axis=2)
        alive.extend([weakref.ref(tiles), weakref.ref(out)])
        return out

    rows: list[tuple[int, int]] = []
    image = RNG.uniform(size=(200, 150, 3)).astype(np.float32)
    result = tile_image(image, tracked, tile=tile, overlap=4, scale=scale, batch=batch,
                        sink=lambda y, r: rows.append((y, len(r))))
    assert result is None
    assert peak["tiles"] == 0  # previous batch's input and output are gone when the next starts
    # rows arrive in order, without gaps, and no band is taller than one tile row of output
    assert rows[0][0] == 0 and sum(n for _, n in rows) == 200 * scale
    assert all(a + n == b for (a, n), (b, _) in zip(rows, rows[1:], strict=False))
    assert max(n for _, n in rows) <= tile * scale


def test_streamed_rows_equal_the_returned_array() -> None:
    image = RNG.uniform(0, 255, (70, 50, 3)).astype(np.float32)
    whole = tile_image(image, pointwise_x2, tile=24, overlap=6, scale=2)
    parts: dict[int, np.ndarray] = {}
    tile_image(image, pointwise_x2, tile=24, overlap=6, scale=2, sink=lambda y, r: parts.setdefault(y, r.copy()))
    np.testing.assert_array_equal(np.concatenate([parts[y] for y in sorted(parts)]), whole)


def test_tile_from_budget_fits_and_grows_with_budget() -> None:
    small = tile_from_budget(16 << 20, scale=4, in_channels=3, out_channels=3, overlap=16)
    large = tile_from_budget(256 << 20, scale=4, in_channels=3, out_channels=3, overlap=16)
    assert small % 8 == 0 and large % 8 == 0 and small < large <= 1024
    per_px = 4 * (3 + 2 * 64 + 16 * 3)
    assert large * large * per_px <= 256 << 20


@pytest.mark.parametrize(("height", "width", "max_px"), [(700, 1000, 400_000), (3000, 4000, 460_000), (1300, 900, 250_000)])
def test_even_tiles_fit_the_budget_and_waste_little(height: int, width: int, max_px: int) -> None:
    th, tw = even_tiles(height, width, max_px=max_px, overlap=24, minimum=64)
    assert th * tw <= max_px and min(th, tw) >= 64
    grid = tile_grid(height, width, (th, tw), 24)
    computed = sum(t.h * t.w for t in grid)
    square = int(max_px**0.5)  # what one square tile size would compute instead
    squares = len(tile_grid(height, width, square, 24)) * square * square
    assert computed <= squares and computed < 1.25 * height * width


def test_even_tiles_blend_exactly() -> None:
    image = RNG.uniform(0, 255, (70, 50, 3)).astype(np.float32)
    tile = even_tiles(70, 50, max_px=900, overlap=6, minimum=16)
    assert tile != (70, 50)
    out = tile_image(image, pointwise_x2, tile=tile, overlap=6, scale=2)
    np.testing.assert_allclose(out, untiled(image, pointwise_x2, overlap=6, scale=2), atol=1e-3)
