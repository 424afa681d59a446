"""Reading photos the way a camera meant them, and writing outputs without ever losing a file.

`read_photo` returns 8-bit RGB with the EXIF orientation applied (all eight), alpha kept apart,
16-bit data scaled (not clipped) to 8 bits, CMYK/grey/palette converted, and every bad input
(missing, empty, corrupt, truncated, too many pixels) turned into an InputFileError that names
the file and the problem. Pillow's LOAD_TRUNCATED_IMAGES is never switched on: a truncated
photo is an error, not a grey stripe. `write_image_atomic` writes a temp file beside the target
and renames it over, refusing to touch any path listed in `protect`.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from edgephoto import files
from edgephoto.errors import InputFileError, InvalidOptionError, OutputError

DEFAULT_MAX_PIXELS = 100_000_000  # decompression-bomb guard; configurable per call
SAMPLES = ("astronaut", "coffee", "chelsea", "rocket")

# EXIF tag ids (TIFF/EXIF 2.3): the facts the photo steps use to set their strengths.
_IFD0 = {0x0112: "orientation", 0x010F: "make", 0x0110: "model", 0x0132: "datetime"}
_EXIF_IFD = 0x8769
_EXIF = {
    0x8827: "iso",
    0x829A: "exposure_time",
    0x829D: "f_number",
    0x920A: "focal_length",
    0x9003: "datetime_original",
}


@dataclass
class Photo:
    """One decoded photo: 8-bit RGB as displayed, optional alpha, and the facts about it."""

    rgb: np.ndarray  # uint8 HxWx3, EXIF orientation applied
    alpha: np.ndarray | None = None  # uint8 HxW (255 = opaque), same orientation as rgb
    exif: dict[str, Any] = field(default_factory=dict)
    mode: str = "RGB"  # Pillow mode of the source ("RGB", "CMYK", "I;16", "P", "LA", ...)
    bit_depth: int = 8  # bits per sample in the source
    path: Path | None = None
    format: str | None = None  # "JPEG", "PNG", ...

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) as displayed."""
        return int(self.rgb.shape[1]), int(self.rgb.shape[0])

    @property
    def name(self) -> str:
        return self.path.stem if self.path is not None else "photo"

    def composited(self, background: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
        """RGB with the alpha blended over `background` (the rgb itself if there is no alpha)."""
        if self.alpha is None:
            return self.rgb
        a = self.alpha.astype(np.float32)[..., None] / 255.0
        bg = np.asarray(background, np.float32)
        return np.clip(self.rgb * a + bg * (1.0 - a) + 0.5, 0, 255).astype(np.uint8)

    def describe(self) -> dict[str, Any]:
        """JSON-ready facts for summaries."""
        return {
            "path": str(self.path) if self.path else None,
            "format": self.format,
            "mode": self.mode,
            "bit_depth": self.bit_depth,
            "width": self.size[0],
            "height": self.size[1],
            "has_alpha": self.alpha is not None,
            "exif": self.exif,
        }


def _rational(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if np.isfinite(number) else None


def exif_facts(image: Image.Image) -> dict[str, Any]:
    """Orientation, ISO, exposure, aperture, focal length, camera and date (None if absent)."""
    facts: dict[str, Any] = {name: None for name in (*_IFD0.values(), *_EXIF.values())}
    try:
        exif = image.getexif()
    except Exception:  # malformed EXIF must not make a readable photo unreadable
        return facts
    for tag, name in _IFD0.items():
        facts[name] = exif.get(tag)
    try:
        sub = exif.get_ifd(_EXIF_IFD)
    except Exception:
        sub = {}
    for tag, name in _EXIF.items():
        facts[name] = sub.get(tag)
    iso = facts["iso"]
    if isinstance(iso, tuple):  # some cameras store a tuple of speeds
        iso = iso[0] if iso else None
    facts["iso"] = int(iso) if isinstance(iso, int | float) else None
    for name in ("exposure_time", "f_number", "focal_length"):
        facts[name] = _rational(facts[name])
    for name in ("make", "model", "datetime", "datetime_original"):
        value = facts[name]
        if isinstance(value, bytes):
            value = value.decode("latin-1", "replace")
        facts[name] = value.strip("\x00 ").strip() if isinstance(value, str) else None
    orientation = facts["orientation"]
    facts["orientation"] = int(orientation) if isinstance(orientation, int) else None
    return facts


def apply_orientation(array: np.ndarray, orientation: int | None) -> np.ndarray:
    """Turn a stored (sensor-order) array into display order for EXIF orientation 1-8."""
    if orientation in (None, 0, 1):
        return array
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a.swapaxes(0, 1)[::-1, ::-1],
        8: lambda a: np.rot90(a, 1),
    }
    op = ops.get(int(orientation))
    return np.ascontiguousarray(op(array)) if op else array


def _source_bit_depth(image: Image.Image, raw: bytes) -> int:
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return 16
    if image.mode == "1":
        return 1
    if image.mode in ("I", "F"):
        return 32
    if image.format == "PNG" and len(raw) > 24 and raw[12:16] == b"IHDR":
        return int(raw[24])  # the PNG header's own bit depth (Pillow hides 16-bit RGB)
    if image.format == "TIFF":
        bits = image.tag_v2.get(258) if hasattr(image, "tag_v2") else None
        if isinstance(bits, tuple) and bits:
            return int(bits[0])
        if isinstance(bits, int):
            return bits
    return 8


def _to_uint8(values: np.ndarray, peak: float) -> np.ndarray:
    """Scale 0..peak to 0..255 with rounding (65535 -> 255, 32768 -> 128), never clipping."""
    scaled = values.astype(np.float64) * (255.0 / peak)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _decode(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """Pixels as uint8 RGB plus uint8 alpha or None, whatever the source mode."""
    mode = image.mode
    if mode.startswith("I;16") or mode == "I":
        grey = np.asarray(image)
        grey = _to_uint8(grey, 65535.0 if grey.max(initial=0) <= 65535 else float(grey.max()))
        return np.repeat(grey[..., None], 3, axis=2), None
    if mode == "F":
        grey = np.nan_to_num(np.asarray(image, dtype=np.float64))
        peak = 1.0 if grey.max(initial=0) <= 1.0 else 255.0
        return np.repeat(_to_uint8(np.clip(grey, 0, peak), peak)[..., None], 3, axis=2), None
    if mode == "CMYK":
        return np.asarray(_cmyk_to_rgb(image)), None
    if mode == "P":
        has_alpha = "transparency" in image.info or (image.palette is not None and image.palette.mode == "RGBA")
        image = image.convert("RGBA" if has_alpha else "RGB")
        mode = image.mode
    if mode in ("LA", "La", "PA", "RGBa"):
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode == "RGBA":
        array = np.asarray(image)
        return np.ascontiguousarray(array[..., :3]), np.ascontiguousarray(array[..., 3])
    if mode != "RGB":
        image = image.convert("RGB")
    return np.asarray(image), None


def _cmyk_to_rgb(image: Image.Image) -> Image.Image:
    """Through the embedded ICC profile when there is one (colour-managed), else Pillow's naive map."""
    icc = image.info.get("icc_profile")
    if icc:
        try:
            from PIL import ImageCms

            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(image, src, ImageCms.createProfile("sRGB"), outputMode="RGB")
            if converted is not None:
                return converted
        except Exception:  # a broken profile should not cost the photo
            pass
    return image.convert("RGB")


# What `edgephoto run DIR` picks up in a folder: the still-image formats Pillow decodes here.
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif")


def photos_in(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[Path], list[Path]]:
    """Expand directories (recursively, sorted, hidden entries skipped) into their photo files.

    Returns (photos, skipped): files named on their own are kept whatever their suffix (reading
    them gives the real error); files inside a directory without a photo suffix are skipped.
    """
    photos: list[Path] = []
    skipped: list[Path] = []
    for given in map(Path, paths):
        if not given.is_dir():
            photos.append(given)
            continue
        for path in sorted(given.rglob("*")):
            relative = path.relative_to(given).parts
            if any(part.startswith(".") for part in relative) or path.is_dir():
                continue
            (photos if path.suffix.lower() in PHOTO_SUFFIXES else skipped).append(path)
    return photos, skipped


def read_photo(path: str | os.PathLike[str], *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Photo:
    """Decode one photo file. Raises InputFileError for anything that is not a whole image."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(path, "no such file")
    if path.is_dir():
        raise InputFileError(path, "is a directory, not an image file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputFileError(path, f"cannot read: {exc.strerror or exc}") from exc
    return decode_photo(raw, path=path, max_pixels=max_pixels)


def decode_photo(raw: bytes, *, path: Path | None = None, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Photo:
    """`read_photo` for bytes already in memory (uploads, archives)."""
    where = path if path is not None else "<bytes>"
    if not raw:
        raise InputFileError(where, "empty file (0 bytes)")
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise InputFileError(where, "refusing to decode: PIL.ImageFile.LOAD_TRUNCATED_IMAGES is on")
    try:
        with warnings.catch_warnings():
            # Our own limit below decides; Pillow's default warning must never pass silently.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw))
        width, height = image.size
        if max_pixels is not None and width * height > max_pixels:
            raise InputFileError(
                where, f"{width}x{height} = {width * height / 1e6:.1f} MP exceeds the "
                f"{max_pixels / 1e6:.1f} MP limit (decompression-bomb guard)"
            )
        image.load()
    except InputFileError:
        raise
    except Image.DecompressionBombError as exc:
        raise InputFileError(where, f"too many pixels (decompression-bomb guard): {exc}") from exc
    except UnidentifiedImageError as exc:
        raise InputFileError(where, "not a recognised image (corrupt or wrong file type)") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        problem = str(exc) or type(exc).__name__
        if "truncated" in problem.lower() or isinstance(exc, EOFError):
            problem = f"truncated image data ({problem})"
        raise InputFileError(where, f"cannot decode: {problem}") from exc
    facts = exif_facts(image)
    bit_depth = _source_bit_depth(image, raw)
    try:
        rgb, alpha = _decode(image)
    except (OSError, ValueError) as exc:
        raise InputFileError(where, f"cannot convert {image.mode} pixels: {exc}") from exc
    orientation = facts.get("orientation")
    rgb = apply_orientation(rgb, orientation)
    if alpha is not None:
        alpha = apply_orientation(alpha, orientation)
    return Photo(
        rgb=np.ascontiguousarray(rgb, dtype=np.uint8),
        alpha=alpha,
        exif=facts,
        mode=image.mode,
        bit_depth=bit_depth,
        path=path,
        format=image.format,
    )


def sample_path(name: str = "astronaut") -> Path:
    """Path of a built-in sample photo (see src/edgephoto/data/README.md)."""
    if name not in SAMPLES:
        from edgephoto.errors import UnknownNameError

        raise UnknownNameError("sample photo", name, SAMPLES)
    return Path(str(resources.files("edgephoto.data").joinpath(f"{name}.jpg")))


def load_sample(name: str = "astronaut") -> Photo:
    """One of the photos shipped with edgephoto: the default input of `edgephoto run`."""
    return read_photo(sample_path(name))


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def write_bytes_atomic(
    path: str | os.PathLike[str], data: bytes, *, protect: Iterable[str | os.PathLike[str]] = ()
) -> Path:
    """Write `data` to a temp file in the same directory, fsync, then os.replace onto `path`."""
    path = Path(path)
    for guarded in protect:
        if _same_file(path, Path(guarded)):
            raise OutputError(f"{path}: refusing to overwrite an input file")
    try:
        return files.write_bytes_atomic(path, data, fsync=True)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from exc


_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF"}


def to_uint8(array: np.ndarray) -> np.ndarray:
    """uint8 as is; floats are taken as 0..1 and rounded."""
    if array.dtype == np.uint8:
        return array
    if np.issubdtype(array.dtype, np.floating):
        return np.clip(np.rint(np.nan_to_num(array) * 255.0), 0, 255).astype(np.uint8)
    raise InvalidOptionError(f"cannot write an image of dtype {array.dtype}; use uint8 or float 0..1")


def encode_image(array: np.ndarray, suffix: str, *, quality: int | None = None) -> bytes:
    """Encode HxW (grey), HxWx3 (RGB) or HxWx4 (RGBA) into the format named by `suffix`."""
    fmt = _FORMATS.get(suffix.lower())
    if fmt is None:
        raise InvalidOptionError(f"unknown image suffix '{suffix}'; use one of {sorted(_FORMATS)}")
    if array.dtype == np.uint16 and array.ndim == 2 and fmt in ("PNG", "TIFF"):
        image = Image.fromarray(array)  # 16-bit grey, e.g. a depth map
    else:
        array = to_uint8(array)
        if array.ndim == 3 and array.shape[2] == 4 and fmt == "JPEG":
            raise InvalidOptionError("JPEG has no alpha channel: write RGBA as .png or .webp")
        image = Image.fromarray(array)
    options: dict[str, Any] = {}
    if fmt in ("JPEG", "WEBP"):
        options["quality"] = 92 if quality is None else int(quality)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def write_image_atomic(
    path: str | os.PathLike[str],
    array: np.ndarray,
    *,
    quality: int | None = None,
    protect: Iterable[str | os.PathLike[str]] = (),
) -> Path:
    """Encode `array` by the suffix of `path` and write it atomically; never over a `protect` path."""
    path = Path(path)
    return write_bytes_atomic(path, encode_image(np.asarray(array), path.suffix, quality=quality), protect=protect)
