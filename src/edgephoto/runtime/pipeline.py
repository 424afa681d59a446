"""The photo pipeline: a thin orchestrator over image_io, photo/, the task runners and effects.

Steps register by name with the steps they need (bokeh needs depth and segment); a run sorts
the asked steps plus their dependencies into the registry's order. Model steps get an
artifact directory from `artifacts` (a role -> path mapping, or a callable returning a path or
None) and run it through `edgephoto.runtime.tasks.TASKS`. Every output is written atomically
beside a JSON summary per photo; no write may land on an input.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np

from edgephoto.errors import EdgePhotoError, InputFileError, InvalidOptionError, OutputError
from edgephoto.manifest import MANIFEST_NAME, read_manifest
from edgephoto.registry import Registry
from edgephoto.runtime.image_io import (
    Photo,
    encode_image,
    load_sample,
    read_photo,
    write_bytes_atomic,
    write_image_atomic,
)

Resolver = Union[Mapping[str, Path], Callable[[str], "Path | None"]]  # noqa: UP007
Progress = Callable[[str], None]
Sink = Callable[[Path, bytes], None]  # (final path, encoded bytes): written by someone else

# The artifact role each model step asks for, and the default zoo model per role, are in the
# task table (edgephoto/tasks.py); only the CLI may build a missing artifact (cli/run.py).


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[Context], dict[str, Any]]
    needs: tuple[str, ...] = ()
    description: str = ""


STEPS: Registry[Step] = Registry("step", modules=("edgephoto.runtime.steps",))


def step(name: str, *, needs: tuple[str, ...] = (), description: str = "") -> Callable[..., Any]:
    def wrap(fn: Callable[[Context], dict[str, Any]]) -> Callable[[Context], dict[str, Any]]:
        STEPS.add(name, Step(name, fn, needs, description or (fn.__doc__ or "").strip()))
        return fn

    return wrap


class Models:
    """Loaded backends per role, shared across photos, closed at the end of the run."""

    def __init__(self, artifacts: Resolver | None, backend: str | None, device: str,
                 threads: int | None = None) -> None:
        self.artifacts, self.backend, self.device, self.threads = artifacts, backend, device, threads
        self._loaded: dict[str, tuple[Any, dict[str, Any], Path]] = {}

    def path(self, role: str) -> Path | None:
        if self.artifacts is None:
            return None
        if isinstance(self.artifacts, Mapping):
            found = self.artifacts.get(role)
        else:
            found = self.artifacts(role)
        return Path(found) if found is not None else None

    def get(self, role: str, *, required: bool = True) -> tuple[Any, dict[str, Any], Path] | None:
        if role not in self._loaded:
            path = self.path(role)
            if path is None:
                if not required:
                    return None
                raise InputFileError(
                    "<artifacts>", f"no '{role}' artifact: pass --artifacts DIR made by `edgephoto convert`"
                )
            from edgephoto.runtime.artifact import load_artifact

            backend, manifest = load_artifact(path, backend=self.backend, device=self.device,
                                              **self._engine_options(path))
            self._loaded[role] = (backend, manifest, path)
        return self._loaded[role]

    def _engine_options(self, path: Path) -> dict[str, Any]:
        """threads= for an engine that takes it (batch workers split the cores among them)."""
        if self.threads is None:
            return {}
        from edgephoto.runtime.artifact import default_backend
        from edgephoto.runtime.backends import BACKENDS

        root = path if path.is_dir() and not path.suffix else path.parent
        name = self.backend or default_backend(read_manifest(root))
        return {"threads": self.threads} if "threads" in BACKENDS.get(name).options else {}

    def run(self, ctx: Context, role: str, task: str, **options: Any) -> tuple[Any, dict[str, Any]]:
        """Run the artifact for `role` through task `task` on the current image."""
        from edgephoto.runtime.tasks import TASKS

        loaded = self.get(role)
        assert loaded is not None
        backend, manifest, path = loaded
        result = TASKS.get(task).run(backend, manifest, ctx.image, **options)
        return result, describe_model(backend, manifest, path)

    def close(self) -> None:
        for backend, _, _ in self._loaded.values():
            backend.close()
        self._loaded.clear()


def describe_model(backend: Any, manifest: dict[str, Any], path: Path) -> dict[str, Any]:
    return {
        **backend.describe(),
        "model": manifest.get("model"),
        "target": manifest.get("target"),
        "precision": manifest.get("precision"),
        "artifact": str(path),
    }


@dataclass
class Context:
    """One photo travelling through the steps."""

    photo: Photo
    image: np.ndarray  # the current RGB (after denoise / wb / tone)
    stem: str
    out_dir: Path
    models: Models
    protect: tuple[Path, ...]
    options: dict[str, dict[str, Any]]
    depth: np.ndarray | None = None
    depth_far_is_larger: bool = True
    mask: np.ndarray | None = None
    matte: np.ndarray | None = None
    faces: list[tuple[Any, Any]] | None = None  # (Face, Landmarks | None) per face, from the faces step
    outputs: dict[str, str] = field(default_factory=dict)
    models_used: dict[str, dict[str, Any]] = field(default_factory=dict)
    enhanced: list[str] = field(default_factory=list)
    sink: Sink | None = None  # where encoded outputs go instead of the disk (a Ray actor's)

    def write(self, key: str, suffix: str, array: np.ndarray, *, quality: int | None = None) -> Path:
        path = self.out_dir / f"{self.stem}.{suffix}"
        if self.sink is None:
            write_image_atomic(path, array, quality=quality, protect=self.protect)
        else:
            self.sink(path, encode_image(np.asarray(array), path.suffix, quality=quality))
        self.outputs[key] = str(path)
        return path

    def opt(self, step_name: str) -> dict[str, Any]:
        return dict(self.options.get(step_name, {}))


def plan(steps: Sequence[str]) -> list[str]:
    """The asked steps plus everything they need, in registry order; unknown names suggest."""
    wanted: set[str] = set()

    def add(name: str) -> None:
        info = STEPS.get(name)  # UnknownNameError with the nearest name
        if name not in wanted:
            wanted.add(name)
            for need in info.needs:
                add(need)

    for name in steps:
        add(name.strip())
    return [name for name in STEPS.names() if name in wanted]


def find_artifacts(root: str | Path, backend: str | None = None) -> dict[str, Path]:
    """Role -> artifact dir for every manifest under `root` (as `edgephoto convert --out` lays
    them out: root/<model>/<target>-<precision>/). When several models fill a role, the role's
    default zoo model comes first (tasks.default_models), then the first by path. Float ONNX is
    preferred when several fit: which engine is fastest is backend="auto"'s choice, from the zoo's
    measured table (cli/run.py picks among the model's own artifacts with it). With `backend`,
    only artifacts holding a file it loads, its own target first (OpenVINO also reads .onnx, but
    runs its own IR)."""
    from edgephoto.runtime.artifact import loads
    from edgephoto.runtime.backends import backend_for_target, target_rank
    from edgephoto.tasks import TASKS, default_models

    root = Path(root)
    defaults = default_models()
    found: dict[str, tuple[tuple[int, int, int, int, str], Path]] = {}
    for manifest_path in sorted(root.glob(f"*/*/{MANIFEST_NAME}")) + sorted(root.glob(f"*/{MANIFEST_NAME}")):
        try:
            manifest = read_manifest(manifest_path.parent)
        except EdgePhotoError:
            continue
        if backend is not None and not loads(manifest, backend):
            continue
        task = str(manifest.get("task", ""))
        role = (TASKS.get(task).role_for(int(manifest.get("scale", 1))) if task in TASKS else None) or task
        target = str(manifest.get("target"))
        own = 0 if backend is None or backend_for_target(target) == backend else 1
        default = 0 if defaults.get(role) == manifest.get("model") else 1
        rank = (default, own, target_rank(target), 0 if manifest.get("precision") == "fp32" else 1,
                str(manifest_path))
        if role not in found or rank < found[role][0]:
            found[role] = (rank, manifest_path.parent)
    return {role: path for role, (_, path) in found.items()}


def _unique_stem(stem: str, taken: set[str]) -> str:
    candidate, n = stem, 2
    while candidate in taken:
        candidate, n = f"{stem}-{n}", n + 1
    taken.add(candidate)
    return candidate


def _check_out_dir(out_dir: Path, inputs: Sequence[Path]) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"{out_dir}: --out must be a directory")
    resolved = out_dir.resolve()
    for path in inputs:
        if resolved == path.resolve():
            raise OutputError(f"{out_dir}: --out resolves onto the input {path}")


def run_pipeline(
    photos: Sequence[str | Path | Photo],
    steps: Sequence[str],
    out_dir: str | Path,
    *,
    artifacts: Resolver | None = None,
    backend: str | None = None,
    device: str = "auto",
    progress: Progress | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    keep_going: bool = False,
) -> list[dict[str, Any]]:
    """Run `steps` on each photo; returns (and writes as <stem>.json) one summary per photo.

    With keep_going a photo that fails is recorded (ok: false, error) and the rest still run;
    otherwise the first error is raised after closing the models.
    """
    order = plan(steps)
    if not order:
        raise InvalidOptionError(f"no steps given; choose from {', '.join(STEPS.names())}")
    out_dir = Path(out_dir)
    inputs = tuple(Path(p) for p in photos if not isinstance(p, Photo))
    inputs += tuple(p.path for p in photos if isinstance(p, Photo) and p.path is not None)
    _check_out_dir(out_dir, inputs)
    step_options = check_options(options)
    models = Models(artifacts, backend, device)
    summaries: list[dict[str, Any]] = []
    taken: set[str] = set()
    try:
        for index, item in enumerate(photos, 1):
            stem = _unique_stem(item.name if isinstance(item, Photo) else Path(item).stem, taken)
            summary = run_photo(item, stem, order, out_dir, models, options=step_options, protect=inputs,
                                progress=progress, where=f"[{index}/{len(photos)}] ")
            if not summary["ok"] and not keep_going:
                raise summary.pop("exception")
            summary.pop("exception", None)
            summaries.append(summary)
    finally:
        models.close()
    return summaries


def check_options(options: Mapping[str, Mapping[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """Per-step options as plain dicts; an option for an unknown step suggests the nearest."""
    step_options = {k: dict(v) for k, v in (options or {}).items()}
    for name in step_options:
        STEPS.get(name)
    return step_options


def unique_stems(photos: Sequence[Path]) -> list[str]:
    """The output stem of each photo, as run_pipeline names them (a repeated stem gets -2, -3)."""
    taken: set[str] = set()
    return [_unique_stem(Path(p).stem, taken) for p in photos]


def run_photo(
    item: str | Path | Photo,
    stem: str,
    order: Sequence[str],
    out_dir: Path,
    models: Models,
    *,
    options: dict[str, dict[str, Any]],
    protect: tuple[Path, ...],
    progress: Progress | None = None,
    where: str = "",
    sink: Sink | None = None,
) -> dict[str, Any]:
    """One photo through the planned steps; its summary, also written as <stem>.json last.

    A failure is in the summary (ok: false, error, and the exception under "exception" for a
    caller that raises it). With `sink`, outputs and the summary go there, not to the disk.
    """
    tell = progress or (lambda message: None)
    label = item.name if isinstance(item, Photo) else Path(item).name
    summary: dict[str, Any] = {"input": str(item.path if isinstance(item, Photo) else item),
                               "stem": stem, "steps": list(order), "ok": False}
    timings: dict[str, float] = {}
    try:
        tell(f"{where}{label}: read")
        started = time.perf_counter()
        photo_obj = item if isinstance(item, Photo) else read_photo(item)
        timings["read"] = round(time.perf_counter() - started, 4)
        ctx = Context(photo_obj, photo_obj.rgb.copy(), stem, out_dir, models, protect, options, sink=sink)
        summary["photo"] = photo_obj.describe()
        params: dict[str, Any] = {}
        for name in order:
            tell(f"{where}{label}: {name}")
            started = time.perf_counter()
            params[name] = STEPS.get(name).run(ctx)
            timings[name] = round(time.perf_counter() - started, 4)
        if ctx.enhanced:
            ctx.write("enhanced", "enhanced.jpg", ctx.image, quality=95)
        summary.update(ok=True, outputs=ctx.outputs, parameters=params,
                       models=ctx.models_used, exif=photo_obj.exif)
    except EdgePhotoError as exc:
        summary.update(error=str(exc), error_type=type(exc).__name__)
        _write_summary(out_dir, stem, summary, timings, protect, quiet=True, sink=sink)
        summary["exception"] = exc
        return summary
    return _write_summary(out_dir, stem, summary, timings, protect, sink=sink)


def _write_summary(out_dir: Path, stem: str, summary: dict[str, Any], timings: dict[str, float],
                   inputs: tuple[Path, ...], *, quiet: bool = False, sink: Sink | None = None) -> dict[str, Any]:
    """<stem>.json beside the outputs; `quiet` when another error is already on its way up."""
    summary["timings_s"] = timings
    summary["total_s"] = round(sum(timings.values()), 4)
    path = out_dir / f"{stem}.json"
    data = (json.dumps(summary, indent=2, default=str) + "\n").encode()
    try:
        if sink is None:
            write_bytes_atomic(path, data, protect=inputs)
        else:
            sink(path, data)
        summary["summary"] = str(path)
    except OutputError:
        if not quiet:
            raise
    return summary


def run_on_sample(steps: Sequence[str], out_dir: str | Path, **kwargs: Any) -> list[dict[str, Any]]:
    """The README's first command: the pipeline on the built-in astronaut photo."""
    return run_pipeline([load_sample("astronaut")], steps, out_dir, **kwargs)
