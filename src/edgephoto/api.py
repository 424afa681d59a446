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

from edgephoto.errors import ConversionError, InputFileError, InvalidOptionError, MissingExtraError

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

    @property
    def backend_name(self) -> str:
        """The engine that runs the model (onnxruntime, litert, openvino, ...)."""
        return str(self.backend.info.name)

    @property
    def backend_reason(self) -> str:
        """Why that engine: named by the caller, fastest measured here, the artifact's own, ..."""
        return str(self.backend.reason)

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

    backend "auto" on a zoo name runs the fastest engine measured for it on this CPU class
    that is installed and whose artifact exists or can be built (`auto_zoo_artifact`); on an
    artifact directory, the artifact's own engine (onnxruntime for .onnx, litert for .tflite,
    ...). A named backend runs that engine (a zoo name is then built for its target).
    `TaskModel.backend_reason` says which rule chose the engine.
    `artifacts` is where zoo models are built (default: the cache's artifacts dir).
    """
    from edgephoto.runtime.artifact import load_artifact

    chosen = None if backend == "auto" else backend
    options: dict[str, Any] = {} if threads is None else {"threads": int(threads)}
    path = Path(model)
    reason = None
    if not path.exists():
        tell = progress or (lambda _: None)
        if chosen is None:
            path, chosen, reason = auto_zoo_artifact(str(model), artifacts=artifacts, progress=tell)
        else:
            path = zoo_artifact(str(model), chosen, artifacts=artifacts, progress=tell)
    loaded, manifest = load_artifact(path, backend=chosen, device=device, reason=reason, **options)
    root = path if path.is_dir() else path.parent
    return TaskModel(loaded, manifest, root)


def artifact_cache() -> Path:
    """Where zoo models are converted when no artifact is given."""
    from edgephoto.zoo.weights import cache_dir

    return cache_dir() / "artifacts"


def can_convert() -> bool:
    """Whether this install can build zoo artifacts (the convert extra's modules are there)."""
    return all(importlib.util.find_spec(module) is not None for module in CONVERT_MODULES)


def built_artifact(root: Path, model: str, target: str, precision: str = "fp32") -> Path | None:
    """The artifact dir zoo_artifact builds for `model` on `target` under `root`, if it is there
    (the layout `edgephoto convert --out` writes: root/<model>/<target>-<precision>/)."""
    from edgephoto.manifest import MANIFEST_NAME, artifact_location

    final = artifact_location(root, model, target, precision)
    return final if (final / MANIFEST_NAME).is_file() else None


def auto_zoo_artifact(model: str, *, artifacts: Path | None = None, progress: Progress = lambda _: None,
                      purpose: str = "", build: bool = True) -> tuple[Path, str, str]:
    """(artifact dir, backend, reason) for backend="auto" on zoo model `model`: the fastest
    installed engine (runtime.auto.auto_backend, the zoo's measured table) whose fp32
    artifact is in `artifacts` or can be built there; an engine whose conversion fails is
    passed over, and the reason says so."""
    from edgephoto.runtime.auto import auto_backend
    from edgephoto.runtime.backends import BACKENDS, engine_missing
    from edgephoto.zoo import get_model

    spec = get_model(model)
    root = artifacts or artifact_cache()
    buildable = build and can_convert()

    def built(name: str) -> bool:
        return built_artifact(root, spec.name, BACKENDS.get(name).target or "") is not None

    engines = [n for n, info in BACKENDS if info.target and engine_missing(n) is None]
    if not buildable and not any(built(n) for n in engines):
        if not build:
            raise InputFileError(root, f"no {spec.name} artifact for an installed engine, and building is off")
        # nothing to run and nothing can be built: zoo_artifact says which extra is missing
        zoo_artifact(spec.name, None, artifacts=root, progress=progress, purpose=purpose)
    failed: dict[str, str] = {}

    def usable(name: str) -> bool:
        return name not in failed and (built(name) or buildable)

    while any(usable(n) for n in engines):
        choice = auto_backend(spec.name, "fp32", usable=usable)
        try:
            path = zoo_artifact(spec.name, choice.backend, artifacts=root, progress=progress, purpose=purpose)
        except ConversionError as exc:
            failed[choice.backend] = str(exc).splitlines()[0]
            continue
        notes = "".join(f"; {name} conversion failed: {why}" for name, why in failed.items())
        return path, choice.backend, choice.reason + notes
    raise ConversionError(f"building the {spec.name} artifact failed for every installed engine: "
                          + "; ".join(f"{n}: {w}" for n, w in failed.items()))


def zoo_artifact(model: str, backend: str | None, *, artifacts: Path | None = None,
                 progress: Progress = lambda _: None, purpose: str = "") -> Path:
    """The artifact dir of zoo model `model` in the cache, converted there first if missing.

    With `backend`, the artifact is for that backend's target; otherwise float ONNX, or TFLite
    when ONNX fails parity (the fastest engine is backend="auto"'s choice: auto_zoo_artifact).
    Imports edgephoto.convert only when something must be built.
    """
    from edgephoto.runtime.backends import BACKENDS
    from edgephoto.zoo import get_model

    spec = get_model(model)  # unknown names raise with the nearest suggested
    root = artifacts or artifact_cache()
    targets = [BACKENDS.get(backend).target or "onnx"] if backend else ["onnx", "tflite"]
    for target in targets:
        final = built_artifact(root, spec.name, target)
        if final is not None:
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
