"""Calibration and held-out data from real photos, through the model's own pre-processing.

Quantization ranges are only as good as the data that sets them: tile-mode models see crops of
photos at native resolution (what the runtime feeds them, not squashed whole photos), whole-mode
models see the whole photo resized to the input. Photos are split once, deterministically, into
a calibration part and a held-out part, so the accuracy guard never scores a photo that set
the ranges. Upscalers are held out with the SR protocol: an HR crop is bicubic-downsampled to
the input size and the upscaled result is scored against the HR crop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from edgephoto.convert.parity import sample_axes, sample_hw
from edgephoto.errors import EdgePhotoError, InputFileError, InvalidOptionError
from edgephoto.runtime.image_io import PHOTO_SUFFIXES, sample_path
from edgephoto.runtime.tasks.common import model_colour, model_input  # the runtime's own feed
from edgephoto.tasks import TASKS
from edgephoto.zoo.spec import ModelSpec

MIN_PHOTOS = 3  # at least two to calibrate on and one held out
DEFAULT_SUBSET = 64
DEFAULT_HOLDOUT = 12  # held-out samples scored by the accuracy guard
MASK_DIR_NAMES = ("masks", "mask", "gt")


@dataclass
class Sample:
    """One held-out input with what it should be compared against, if anything is known."""

    feed: dict[str, np.ndarray]
    source: str
    reference: np.ndarray | None = None  # upscale: HR crop (0-255, output channels); seg: GT mask


@dataclass
class CalibrationSet:
    calibration: list[dict[str, np.ndarray]]
    holdout: list[Sample]
    calibration_photos: list[str]
    holdout_photos: list[str]
    skipped: list[str] = field(default_factory=list)  # unreadable files, with the reason

    def describe(self) -> dict[str, Any]:
        return {
            "calibration_samples": len(self.calibration),
            "calibration_photos": len(self.calibration_photos),
            "holdout_samples": len(self.holdout),
            "holdout_photos": [Path(p).name for p in self.holdout_photos],
            "holdout_has_reference": any(s.reference is not None for s in self.holdout),
            "skipped": self.skipped,
        }


def builtin_photos_dir() -> Path:
    """The directory of the runtime's built-in sample photos (image_io.SAMPLES)."""
    return sample_path().parent


def list_photos(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise InputFileError(directory, "calibration photos: not a directory")
    return sorted(
        (p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES),
        key=lambda p: (len(p.stem), p.stem),
    )


def _read_rgb(path: Path) -> np.ndarray:
    """8-bit RGB as displayed (grey, 16-bit, CMYK, palette converted by the photo reader)."""
    try:
        from edgephoto.runtime.image_io import read_photo
    except ImportError:  # pragma: no cover - the reader ships with the runtime
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    return read_photo(path).composited()


def _mask_for(photo: Path) -> Path | None:
    """Ground-truth mask beside the photos (../masks/<stem>.png), as in shared/data/portraits."""
    for name in MASK_DIR_NAMES:
        candidate = photo.parent.parent / name / f"{photo.stem}.png"
        if candidate.is_file():
            return candidate
    return None


def _resize(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    return np.asarray(Image.fromarray(pixels).resize((width, height), Image.Resampling.BICUBIC))


def _ensure_min(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """Upsize a photo smaller than a crop (keeping aspect) so crops stay real image content."""
    h, w = pixels.shape[:2]
    factor = max(height / h, width / w, 1.0)
    if factor == 1.0:
        return pixels
    return _resize(pixels, int(np.ceil(w * factor)), int(np.ceil(h * factor)))


def _crop(pixels: np.ndarray, height: int, width: int, rng: np.random.Generator) -> tuple[np.ndarray, tuple[int, int]]:
    h, w = pixels.shape[:2]
    y = int(rng.integers(0, h - height + 1))
    x = int(rng.integers(0, w - width + 1))
    return pixels[y : y + height, x : x + width], (y, x)


def _calibration_views(spec: ModelSpec, rgb: np.ndarray, count: int, rng: np.random.Generator) -> list[np.ndarray]:
    """`count` input-sized views of one photo: native-resolution crops (tile) or resized (whole)."""
    h, w = sample_hw(spec, spec.inputs[0])  # open H/W: calibrate on tile-size views
    if spec.tile.mode == "tile":
        photo = _ensure_min(rgb, h, w)
        return [_crop(photo, h, w, rng)[0] for _ in range(count)]
    views = [_resize(rgb, w, h)]
    ph, pw = rgb.shape[:2]
    while len(views) < count:  # few photos: real sub-views (60-100 % crops, mirrored) add variety
        ch, cw = int(ph * rng.uniform(0.6, 1.0)), int(pw * rng.uniform(0.6, 1.0))
        view = _resize(_crop(rgb, ch, cw, rng)[0], w, h)
        views.append(view[:, ::-1] if rng.random() < 0.5 else view)
    return views[:count]


def _holdout_samples(spec: ModelSpec, path: Path, rgb: np.ndarray, count: int, rng: np.random.Generator) -> list[Sample]:
    tensor = spec.inputs[0]
    h, w = sample_hw(spec, tensor)
    name = spec.inputs[0].name
    samples = []
    reference_kind = TASKS.get(spec.task).holdout_reference if spec.task in TASKS else None
    if reference_kind == "hr_crops" and spec.scale > 1:
        s = spec.scale
        photo = _ensure_min(rgb, h * s, w * s)
        for _ in range(count):
            hr, _ = _crop(photo, h * s, w * s, rng)
            lr = _resize(hr, w, h)
            norm = spec.outputs[0].normalization
            reference: np.ndarray | None = model_colour(hr.astype(np.float32), norm) if norm is not None and norm.color == "Y" else hr.astype(np.float32)
            samples.append(Sample({name: model_input(lr, tensor)}, path.name, reference))
        return samples
    if spec.tile.mode == "tile":
        photo = _ensure_min(rgb, h, w)
        return [Sample({name: model_input(_crop(photo, h, w, rng)[0], tensor)}, path.name)
                for _ in range(count)]
    reference = None
    mask_path = _mask_for(path)
    if mask_path is not None and reference_kind == "masks":
        oh, ow = spec.outputs[0].hw
        with Image.open(mask_path) as mask:  # masks may be smaller than photos: nearest-neighbour
            grey = mask.convert("L").resize((rgb.shape[1], rgb.shape[0]), Image.Resampling.NEAREST)
            reference = np.asarray(grey.resize((ow, oh), Image.Resampling.NEAREST)) > 127
    return [Sample({name: model_input(_resize(rgb, w, h), tensor)}, path.name, reference)]


def calibration_dataset(
    spec: ModelSpec,
    photos_dir: Path | str | None = None,
    *,
    subset_size: int = DEFAULT_SUBSET,
    holdout_size: int = DEFAULT_HOLDOUT,
    progress: Callable[[str], None] | None = None,
    seed: int = 0,
) -> CalibrationSet:
    """Calibration feeds and held-out samples for `spec` from a directory of real photos.

    Default photos: the built-in set (src/edgephoto/data). Every fourth photo (at least one) is
    held out. Raises InputFileError for a missing/empty/unreadable directory and
    InvalidOptionError for a bad subset size.
    """
    if subset_size < 1:
        raise InvalidOptionError(f"--subset-size must be at least 1, got {subset_size}")
    open_hw = spec.tile.mode == "tile" and spec.tile.tile > 0  # open H/W: tile-size views
    if len(spec.inputs) != 1 or any(
        d is None and not (open_hw and i in sample_axes(spec.inputs[0]))
        for i, d in enumerate(spec.inputs[0].shape) if i > 0
    ):
        raise InvalidOptionError(
            f"{spec.name}: calibration needs one fixed-size image input "
            f"(inputs: {[t.shape for t in spec.inputs]})"
        )
    directory = Path(photos_dir) if photos_dir is not None else builtin_photos_dir()
    paths = list_photos(directory)
    if not paths:
        raise InputFileError(directory, f"no photos ({', '.join(PHOTO_SUFFIXES)}) to calibrate on")
    photos, skipped = [], []
    for path in paths:
        try:
            photos.append((path, _read_rgb(path)))
        except (EdgePhotoError, OSError, ValueError) as exc:
            skipped.append(f"{path.name}: {exc}")
    if len(photos) < MIN_PHOTOS:
        why = f" (unreadable: {'; '.join(skipped)})" if skipped else ""
        raise InputFileError(
            directory,
            f"{len(photos)} readable photo(s); calibration needs at least {MIN_PHOTOS}{why}",
        )
    rng = np.random.default_rng(seed)
    held_index = set(range(3, len(photos), 4)) or {len(photos) - 1}
    calib_photos = [p for i, p in enumerate(photos) if i not in held_index]
    held_photos = [p for i, p in enumerate(photos) if i in held_index]
    if progress:
        progress(f"calibration: {len(calib_photos)} photos, {len(held_photos)} held out ({directory})")

    per_photo = -(-subset_size // len(calib_photos))
    feeds: list[dict[str, np.ndarray]] = []
    for _, rgb in calib_photos:
        feeds.extend({spec.inputs[0].name: model_input(view, spec.inputs[0])}
                     for view in _calibration_views(spec, rgb, per_photo, rng))
    order = rng.permutation(len(feeds))[:subset_size]  # mix photos when trimming to the subset
    held_photos = held_photos[:holdout_size]
    per_held = max(1, holdout_size // len(held_photos)) if spec.tile.mode == "tile" else 1
    holdout = [s for path, rgb in held_photos for s in _holdout_samples(spec, path, rgb, per_held, rng)]
    return CalibrationSet(
        [feeds[i] for i in sorted(order)],
        holdout[:holdout_size],
        [str(p) for p, _ in calib_photos],
        [str(p) for p, _ in held_photos],
        skipped,
    )
