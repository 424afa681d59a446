"""image_io on real photos and on every kind of bad or unusual input."""

from __future__ import annotations

import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from edgephoto.errors import InputFileError, OutputError, UnknownNameError
from edgephoto.runtime.image_io import (
    SAMPLES,
    apply_orientation,
    load_sample,
    read_photo,
    sample_path,
    write_image_atomic,
)
from shared_dir import EXIF_DIR, PORTRAITS


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes(array: np.ndarray, bit_depth: int, colour_type: int, *, size: tuple[int, int] | None = None) -> bytes:
    """A PNG written by hand, so 16-bit RGB (which Pillow cannot write) can be tested."""
    h, w = array.shape[:2]
    dtype = ">u2" if bit_depth == 16 else "u1"
    raw = b"".join(b"\x00" + array[y].astype(dtype).tobytes() for y in range(h))
    width, height = size or (w, h)
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("kind", ["Landscape", "Portrait"])
@pytest.mark.parametrize("index", range(9))
@pytest.mark.shared("data/exif")
def test_every_exif_orientation_looks_like_orientation_1(kind: str, index: int) -> None:
    reference = read_photo(EXIF_DIR / f"{kind}_1.jpg")
    photo = read_photo(EXIF_DIR / f"{kind}_{index}.jpg")
    assert photo.rgb.shape == reference.rgb.shape and photo.rgb.dtype == np.uint8
    assert photo.exif["orientation"] == (index if index else photo.exif["orientation"])
    diff = np.abs(photo.rgb.astype(np.float64) - reference.rgb).mean()
    assert diff < 6.0, f"{kind}_{index}: mean abs diff {diff:.1f} (wrong orientation gives > 40)"


@pytest.mark.shared("data/exif")
def test_wrong_orientation_would_be_caught() -> None:
    """The threshold above separates right from wrong: a mirrored photo is far off."""
    reference = read_photo(EXIF_DIR / "Landscape_1.jpg").rgb.astype(np.float64)
    assert np.abs(apply_orientation(reference, 2) - reference).mean() > 20


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_round_trip_of_alpha_with_rgb(tmp_path: Path, orientation: int) -> None:
    rng = np.random.default_rng(orientation)
    rgba = rng.integers(0, 256, (6, 10, 4), dtype=np.uint8)
    image = Image.fromarray(rgba)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "o.png"
    image.save(path, exif=exif)
    photo = read_photo(path)
    assert photo.exif["orientation"] == orientation
    expected = apply_orientation(rgba, orientation)
    assert np.array_equal(photo.rgb, expected[..., :3]) and np.array_equal(photo.alpha, expected[..., 3])
    # Pillow's own transpose agrees with ours.
    pil = np.asarray(__import__("PIL.ImageOps", fromlist=["x"]).exif_transpose(Image.open(path)))
    assert np.array_equal(pil[..., :3], photo.rgb)


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(InputFileError, match="empty") as info:
        read_photo(path)
    assert info.value.path == str(path)


def test_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "noise.jpg"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(InputFileError, match="noise.jpg: not a recognised image"):
        read_photo(path)


@pytest.mark.parametrize("damage", ["zeroed", "flipped"])
def test_corrupt_body_behind_a_valid_header(tmp_path: Path, damage: str) -> None:
    raw = sample_path("coffee").read_bytes()
    if damage == "zeroed":  # tables kept, everything from the scan on zeroed
        raw = raw[:600] + bytes(len(raw) - 600)
    else:  # bits flipped inside the tables
        raw = bytes(b ^ 0xFF if 700 < i < 900 else b for i, b in enumerate(raw))
    path = tmp_path / "broken.jpg"
    path.write_bytes(raw)
    with pytest.raises(InputFileError, match="broken.jpg: cannot decode"):
        read_photo(path)


@pytest.mark.parametrize("source", ["coffee.jpg", "png"])
def test_truncated_file(tmp_path: Path, source: str) -> None:
    if source == "png":
        original = tmp_path / "full.png"
        Image.open(sample_path("rocket")).save(original)
    else:
        original = sample_path("coffee")
    raw = original.read_bytes()
    path = tmp_path / f"cut{original.suffix}"
    path.write_bytes(raw[: len(raw) // 2])
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    with pytest.raises(InputFileError, match="truncated") as info:
        read_photo(path)
    assert "cut" in str(info.value)


def test_missing_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="no such file"):
        read_photo(tmp_path / "nope.jpg")
    with pytest.raises(InputFileError, match="directory"):
        read_photo(tmp_path)


@pytest.mark.parametrize("side", [12_000, 20_000])
def test_decompression_bomb_is_an_error_never_a_warning(tmp_path: Path, side: int) -> None:
    """A header claiming 144 MP (between Pillow's warn and error levels) or 400 MP."""
    path = tmp_path / "bomb.png"
    path.write_bytes(png_bytes(np.zeros((1, 1), np.uint8), 8, 0, size=(side, side)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InputFileError, match="bomb"):
            read_photo(path)


def test_pixel_limit_is_configurable() -> None:
    with pytest.raises(InputFileError, match="0.1 MP limit"):
        read_photo(sample_path("astronaut"), max_pixels=100_000)
    assert read_photo(sample_path("astronaut"), max_pixels=None).size == (512, 512)


def test_16_bit_grey_png_and_tiff_scale_not_clip(tmp_path: Path) -> None:
    grey = np.linspace(0, 65535, 64 * 64).reshape(64, 64).astype(np.uint16)
    for suffix in (".png", ".tif"):
        path = tmp_path / f"g16{suffix}"
        Image.fromarray(grey).save(path)
        photo = read_photo(path)
        assert photo.bit_depth == 16
        expected = np.rint(grey / 257.0)
        assert np.abs(photo.rgb[..., 0].astype(int) - expected).max() == 0
        assert photo.rgb.max() == 255 and 120 < photo.rgb.mean() < 135  # clipping would give ~255


def test_16_bit_rgb_png_and_tiff(tmp_path: Path) -> None:
    rgb = np.random.default_rng(1).integers(0, 65536, (20, 30, 3)).astype(np.uint16)
    png = tmp_path / "rgb16.png"
    png.write_bytes(png_bytes(rgb, 16, 2))
    paths = [png]
    tifffile = pytest.importorskip("tifffile")
    tif = tmp_path / "rgb16.tif"
    tifffile.imwrite(tif, rgb, photometric="rgb")
    paths.append(tif)
    for path in paths:
        photo = read_photo(path)
        assert photo.bit_depth == 16 and photo.rgb.shape == (20, 30, 3)
        assert np.abs(photo.rgb.astype(int) - np.rint(rgb / 257.0)).max() <= 1


def test_cmyk_jpeg(tmp_path: Path) -> None:
    source = Image.open(sample_path("coffee"))
    path = tmp_path / "cmyk.jpg"
    source.convert("CMYK").save(path, quality=95)
    assert Image.open(path).mode == "CMYK"
    photo = read_photo(path)
    assert photo.mode == "CMYK" and photo.rgb.shape == (400, 600, 3)
    assert np.abs(photo.rgb.astype(float) - np.asarray(source, float)).mean() < 4


@pytest.mark.parametrize("mode", ["L", "I;16", "P", "1"])
def test_grey_and_palette(tmp_path: Path, mode: str) -> None:
    source = Image.open(sample_path("chelsea"))
    image = source.convert("L") if mode != "P" else source.quantize(64)
    if mode == "I;16":
        image = Image.fromarray(np.asarray(image.convert("L"), np.uint16) * 257)
    elif mode == "1":
        image = image.convert("1")
    path = tmp_path / "x.png"
    image.save(path)
    photo = read_photo(path)
    assert photo.mode == mode and photo.rgb.shape == (300, 451, 3) and photo.alpha is None
    reference = np.asarray(source.convert("L" if mode != "P" else "RGB"), float)
    got = photo.rgb[..., 0] if mode != "P" else photo.rgb
    if mode == "1":  # dithered: pure black/white whose local averages follow the photo
        assert set(np.unique(got)) == {0, 255}
        blocks = got[:296, :448].reshape(37, 8, 56, 8).mean(axis=(1, 3))
        ref_blocks = reference[:296, :448].reshape(37, 8, 56, 8).mean(axis=(1, 3))
        assert np.abs(blocks - ref_blocks).mean() < 20
    else:
        assert np.abs(got.astype(float) - reference).mean() < 6


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P"])
def test_alpha_is_kept_apart(tmp_path: Path, mode: str) -> None:
    rgb = np.asarray(Image.open(sample_path("astronaut")))
    alpha = np.tile(np.linspace(0, 255, 512).astype(np.uint8), (512, 1))
    image = Image.fromarray(np.dstack([rgb, alpha]))
    if mode == "LA":
        image = image.convert("LA")
    elif mode == "P":
        image = Image.fromarray(rgb).quantize(32)
        image.info["transparency"] = 0
    path = tmp_path / "a.png"
    image.save(path, transparency=0) if mode == "P" else image.save(path)
    photo = read_photo(path)
    assert photo.alpha is not None and photo.alpha.shape == (512, 512)
    if mode != "P":
        assert np.array_equal(photo.alpha, alpha)
        white = photo.composited((255, 255, 255))
        assert white[:, 0].min() == 255  # fully transparent column becomes the background
        assert np.array_equal(white[:, -1], photo.rgb[:, -1])
    else:
        assert set(np.unique(photo.alpha)) <= {0, 255} and (photo.alpha == 0).any()


@pytest.mark.parametrize("name", SAMPLES)
def test_samples(name: str) -> None:
    photo = load_sample(name)
    assert photo.rgb.dtype == np.uint8 and photo.rgb.ndim == 3 and photo.path is not None


def test_unknown_sample_suggests() -> None:
    with pytest.raises(UnknownNameError, match="astronaut"):
        load_sample("astronot")


@pytest.mark.shared("data/portraits")
def test_real_portrait_reads() -> None:
    photo = read_photo(PORTRAITS / "1.jpg")
    assert photo.format == "JPEG" and min(photo.size) > 100


def test_write_atomic_round_trip_and_no_temp_left(tmp_path: Path) -> None:
    rgb = load_sample("coffee").rgb
    out = write_image_atomic(tmp_path / "sub" / "o.png", rgb)
    assert np.array_equal(np.asarray(Image.open(out)), rgb)
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 128, np.uint8)])
    write_image_atomic(tmp_path / "o.png", rgba)
    assert Image.open(tmp_path / "o.png").mode == "RGBA"
    with pytest.raises(Exception, match="alpha"):
        write_image_atomic(tmp_path / "bad.jpg", rgba)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.png", "sub"]


def test_write_failure_leaves_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "keep.png"
    write_image_atomic(target, np.zeros((4, 4, 3), np.uint8))
    before = target.read_bytes()
    with pytest.raises(Exception):  # noqa: B017 - an object array cannot be encoded
        write_image_atomic(target, np.zeros((4, 4, 3), dtype=object))
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.png"]


def test_write_refuses_to_overwrite_protected_input(tmp_path: Path) -> None:
    source = tmp_path / "in.png"
    write_image_atomic(source, np.zeros((4, 4, 3), np.uint8))
    link = tmp_path / "sub" / ".." / "in.png"
    with pytest.raises(OutputError, match="refusing to overwrite an input"):
        write_image_atomic(link, np.ones((4, 4, 3), np.uint8), protect=[source])
    assert read_photo(source).rgb.max() == 0
