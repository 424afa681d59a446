"""The public Python API: `edgephoto.load(...)` gives a callable model for one task.

    import edgephoto
    segmenter = edgephoto.load("selfie")             # a zoo name: built once into the cache
    mask = segmenter("photo.jpg")                    # float32 (H, W) person probability
    upscaler = edgephoto.load("out/fsrcnn-x2/onnx-fp32", backend="openvino", threads=2)
    big = upscaler(rgb_array)                        # uint8 (2H, 2W, 3)

A zoo name whose artifact is not in the cache is converted there first (that needs the
`convert` extra); an artifact directory made by `edgephoto convert` needs only its engine.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from edgephoto.errors import ConversionError, InvalidOptionError, MissingExtraError

Progress = Callable[[str], None]
# what converting a zoo model needs (all in the convert extra)
CONVERT_MODULES = ("onnx", "tensorflow", "tf_keras")


class TaskModel:
    """One loaded artifact and its task: `model(photo, ...)` runs the task's runtime function.

    `photo` is a path, a Pillow image or an (H, W, 3) uint8 RGB array; extra arguments go to
    the task (e.g. a Face for face_landmarks, `refine=False` for segmentation).
    """

    def __init__(self, backend: Any, manifest: dict[str, Any], path: Path) -> None:
        self.backend, self.manifest, self.path = backend, manifest, path
        self.task = str(manifest["task"])
        self.name = str(manifest.get("model", path.name))

    def __call__(self, photo: Any, *args: Any, **options: Any) -> Any:
        from edgephoto.runtime.tasks import TASKS

        return TASKS.get(self.task).run(self.backend, self.manifest, as_rgb(photo), *args, **options)

    def describe(self) -> dict[str, Any]:
        """Which model, target, precision, backend, device and accelerator actually run."""
        from edgephoto.runtime.pipeline import describe_model

        return describe_model(self.backend, self.manifest, self.path)

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> TaskModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TaskModel({self.name!r}, task={self.task!r}, backend={self.backend.info.name!r})"


def as_rgb(photo: Any) -> np.ndarray:
    """(H, W, 3) uint8 RGB from a path (EXIF orientation applied), a Pillow image or an array."""
    from edgephoto.runtime.image_io import read_photo

    if isinstance(photo, str | os.PathLike):
        return read_photo(photo).rgb
    if hasattr(photo, "convert") and hasattr(photo, "size"):  # a Pillow image
        return np.asarray(photo.convert("RGB"))
    array = np.asarray(photo)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise InvalidOptionError(
            f"a photo must be a path, a Pillow image or an (H, W, 3) uint8 RGB array; "
            f"got {array.dtype} {list(array.shape)}"
        )
    return array


def load(
    model: str | os.PathLike[str],
    *,
    backend: str = "auto",
    device: str = "auto",
    threads: int | None = None,
    artifacts: Path | None = None,
    progress: Progress | None = None,
) -> TaskModel:
    """A callable model from a zoo name or an artifact directory (or a file inside one).

    backend "auto" runs the artifact's own engine (onnxruntime for .onnx, litert for .tflite,
    ...); a named backend runs that engine (a zoo name is then built for its target).
    `artifacts` is where zoo models are built (default: the cache's artifacts dir).
    """
    from edgephoto.runtime.artifact import load_artifact

    chosen = None if backend == "auto" else backend
    options: dict[str, Any] = {} if threads is None else {"threads": int(threads)}
    path = Path(model)
    if not path.exists():
        path = zoo_artifact(str(model), chosen, artifacts=artifacts, progress=progress or (lambda _: None))
    loaded, manifest = load_artifact(path, backend=chosen, device=device, **options)
    root = path if path.is_dir() else path.parent
    return TaskModel(loaded, manifest, root)


def artifact_cache() -> Path:
    """Where zoo models are converted when no artifact is given."""
    from edgephoto.zoo.weights import cache_dir

    return cache_dir() / "artifacts"


def zoo_artifact(model: str, backend: str | None, *, artifacts: Path | None = None,
                 progress: Progress = lambda _: None, purpose: str = "") -> Path:
    """The artifact dir of zoo model `model` in the cache, converted there first if missing.

    With `backend`, the artifact is for that backend's target; otherwise the model's measured
    fastest target when its engine is installed (spec.extra["preferred_target"]), else float
    ONNX, or TFLite when ONNX fails parity. Imports edgephoto.convert only when something must be built.
    """
    from edgephoto.runtime.backends import BACKENDS, preferred_target
    from edgephoto.zoo import get_model

    spec = get_model(model)  # unknown names raise with the nearest suggested
    root = artifacts or artifact_cache()
    fastest = preferred_target(spec.extra)
    targets = ([BACKENDS.get(backend).target or "onnx"] if backend
               else list(dict.fromkeys([t for t in (fastest, "onnx", "tflite") if t])))
    for target in targets:
        final = root / spec.name / f"{target}-fp32"
        if (final / "manifest.json").is_file():
            return final
    for module in CONVERT_MODULES:  # a runtime-only install: say what is missing and the way round
        if importlib.util.find_spec(module) is None:
            raise MissingExtraError(
                module, "convert",
                purpose or f"building the {spec.name} artifact; or give an artifact dir made by `edgephoto convert`",
            )
    from edgephoto.convert.api import convert_model
    from edgephoto.convert.targets import parse_targets
    from edgephoto.zoo.weights import resolve

    weights = resolve(spec, progress=progress)
    root.mkdir(parents=True, exist_ok=True)
    errors = []
    for target in targets:
        progress(f"no {spec.name} artifact: converting it to {target} into {root}")
        (result,) = convert_model(spec, weights / spec.files[0].path, parse_targets(target), root,
                                  progress=progress)
        if result.ok:
            return Path(str(result.path))
        errors.append(f"{target}: {result.error}")
    raise ConversionError(f"building the {spec.name} artifact failed: " + "; ".join(errors))
