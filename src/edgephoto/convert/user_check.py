"""After a user's model converts, run the artifact through edgephoto.runtime on real photos and
check its task metric is sane: an upscaler must beat bicubic, a segmenter must find something.

Only the runtime runs here (the artifact as a user would run it); the numbers go into the
artifact's manifest under "sanity", and an insane result is a ConversionError naming them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgephoto.errors import ConversionError
from edgephoto.tasks import TASKS

CROP = 192  # divisible by every scale 2, 3, 4


def sample_photos() -> list[np.ndarray]:
    """Centre crops of the built-in photos, read the way the runtime reads every photo."""
    from edgephoto.runtime.image_io import SAMPLES, load_sample

    photos = []
    for name in sorted(SAMPLES):
        rgb = load_sample(name).rgb
        top, left = (rgb.shape[0] - CROP) // 2, (rgb.shape[1] - CROP) // 2
        photos.append(np.ascontiguousarray(rgb[top : top + CROP, left : left + CROP]))
    return photos


def _upscale_numbers(backend: Any, manifest: dict[str, Any], photos: list[np.ndarray]) -> dict[str, Any]:
    from edgephoto.metrics import bicubic_upscale, psnr_y, sr_pair
    from edgephoto.runtime.tasks.common import ModelFacts
    from edgephoto.runtime.tasks.upscale import upscale

    s = int(manifest["scale"])
    model, bicubic = [], []
    for photo in photos:
        hr, lr = sr_pair(photo, s)  # CROP is a multiple of 2, 3, 4; other scales crop a little
        base = bicubic_upscale(lr, s)
        out = upscale(backend, ModelFacts.load(manifest), lr)
        assert out is not None  # without a sink upscale returns the image
        model.append(psnr_y(hr, out, s))
        bicubic.append(psnr_y(hr, base, s))
    numbers: dict[str, Any] = {"metric": "psnr_y", "photos": len(photos), "model": float(np.mean(model)),
               "bicubic": float(np.mean(bicubic))}
    numbers["sane"] = bool(np.isfinite(numbers["model"]) and numbers["model"] > numbers["bicubic"])
    numbers["rule"] = "mean PSNR-Y on the sample photos beats bicubic"
    return numbers


def _segmentation_numbers(backend: Any, manifest: dict[str, Any], photos: list[np.ndarray]) -> dict[str, Any]:
    from edgephoto.runtime.tasks.common import ModelFacts
    from edgephoto.runtime.tasks.segmentation import segment

    covered = []
    for rgb in photos:
        mask = segment(backend, ModelFacts.load(manifest), rgb, refine=False)
        covered.append(float(np.mean(mask > 0.5)) if np.all(np.isfinite(mask)) else float("nan"))
    numbers: dict[str, Any] = {"metric": "foreground_fraction", "photos": len(photos), "per_photo": covered}
    numbers["sane"] = bool(all(np.isfinite(covered)) and 0.0 < max(covered) and min(covered) < 1.0)
    numbers["rule"] = "the mask is finite, not all background and not all foreground"
    return numbers


# the task table's `sanity` rule -> how a converted user model is checked
CHECKS = {"upscale": _upscale_numbers, "mask": _segmentation_numbers}


def check_artifact(artifact_dir: Path, backend_name: str) -> dict[str, Any]:
    """Sanity numbers for one installed artifact, written into its manifest; raises if insane."""
    from edgephoto.manifest import read_manifest, write_manifest
    from edgephoto.runtime.backends.base import load_backend

    manifest = read_manifest(artifact_dir)
    rule = TASKS.get(manifest["task"]).sanity if manifest["task"] in TASKS else None
    check = CHECKS.get(rule) if rule else None
    if check is None:
        numbers: dict[str, Any] = {"checked": False, "why": f"no sanity rule for task {manifest['task']}"}
    else:
        model = artifact_dir / manifest["files"][0]["path"]
        backend = load_backend(backend_name, model, device="cpu")
        try:
            numbers = {"backend": backend_name, **check(backend, manifest, sample_photos())}
        finally:
            backend.close()
    manifest["sanity"] = numbers
    write_manifest(artifact_dir, manifest)
    if numbers.get("sane") is False:
        shown = {k: v for k, v in numbers.items() if k not in ("rule", "backend")}
        raise ConversionError(f"{manifest['model']} ({manifest['target']}) fails the {manifest['task']} "
                              f"sanity check ({numbers['rule']}): {shown}; check --mean/--std/--color")
    return numbers


def check_results(results: list, backends: dict[str, str | None]) -> None:
    """Run each fp32 user artifact through the runtime on real photos; an insane one is removed."""
    import shutil

    from edgephoto.errors import EdgePhotoError

    for r in results:
        backend = backends.get(r.target)
        if not r.ok or backend is None or r.precision != "fp32":
            continue
        try:
            r.parity = {**r.parity, "sanity": check_artifact(Path(r.path), backend)}
        except EdgePhotoError as exc:
            shutil.rmtree(str(r.path), ignore_errors=True)
            r.ok, r.error, r.error_type, r.path = False, str(exc), type(exc).__name__, None
