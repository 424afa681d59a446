"""Convert a zoo model (or a user's model) to deployable artifacts, each parity-checked and
described by a manifest. The only public entry: `convert_model`.

Artifacts are built in a scratch directory inside the output directory and moved into place
only when complete, so an interrupted or failed conversion never leaves a half-written artifact.
"""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np

from edgephoto.convert import graph, parity
from edgephoto.convert.targets import TargetInfo, check_precision
from edgephoto.errors import EdgePhotoError, OutputError
from edgephoto.files import install_dir
from edgephoto.manifest import artifact_location, file_entries, write_manifest
from edgephoto.runtime.backends.base import BACKENDS, load_backend
from edgephoto.version import __version__
from edgephoto.zoo.spec import ModelSpec, TensorSpec

TOOL_PACKAGES = (
    "tensorflow", "tf-keras", "onnx", "onnxruntime", "tf2onnx", "onnx2tf", "torch",
    "openvino", "coremltools", "ai-edge-litert",
)


@dataclass
class ArtifactResult:
    """One (model, target, precision) outcome, as printed by `convert --json`."""

    model: str
    target: str
    precision: str
    path: str | None = None
    ok: bool = False
    size_bytes: int = 0
    seconds: float = 0.0
    parity: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    error_type: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def tool_versions() -> dict[str, str]:
    versions = {"edgephoto": __version__, "python": platform.python_version()}
    for package in TOOL_PACKAGES:
        try:
            versions[package] = importlib_metadata.version(package)
        except importlib_metadata.PackageNotFoundError:
            pass
    return versions


def metadata_for(spec: ModelSpec, target: str, precision: str) -> dict[str, str]:
    """Flat string metadata that targets embed in the artifact itself."""
    norm = spec.inputs[0].normalization
    return {
        "edgephoto.model": spec.name,
        "edgephoto.task": spec.task,
        "edgephoto.target": target,
        "edgephoto.precision": precision,
        "edgephoto.scale": str(spec.scale),
        "edgephoto.layout": spec.inputs[0].layout,
        "edgephoto.normalization": (
            f"(x - {list(norm.mean)}) / {list(norm.std)} on {norm.color} 0-255" if norm else "none"
        ),
        "edgephoto.licence": spec.licence,
        "edgephoto.upstream": spec.upstream,
        "edgephoto.version": __version__,
    }


def integer_quantization(spec: ModelSpec, source: Path) -> dict[str, dict[str, float]]:
    """Scale/zero-point of integer tensors, as the engine reports them for a TFLite source (never
    hard-coded): the runtime backend's TensorInfo is the one reader of these facts."""
    integer = [t for t in (*spec.inputs, *spec.outputs) if np.dtype(t.dtype).kind in "iu"]
    if not integer or spec.source_format != "tflite":
        return {}
    engine = load_backend("litert", source, device="cpu")
    try:
        actual = {
            **dict(zip([t.name for t in spec.inputs], engine.inputs(), strict=False)),
            **dict(zip([t.name for t in spec.outputs], engine.outputs(), strict=False)),
        }
    finally:
        engine.close()
    return {
        t.name: {"scale": quant[0], "zero_point": quant[1]}
        for t in integer if t.name in actual and (quant := actual[t.name].quantization) is not None
    }


def _tensor_entry(tensor: TensorSpec, actual_name: str, quantization: dict[str, dict[str, float]],
                  engine_shape: list[int | None] | None = None) -> dict[str, Any]:
    """A manifest tensor. `engine_shape` (what the artifact's engine reports) fixes the spec's open
    dims where the artifact is fixed: a TFLite file converted at the 128² tile size takes only
    that, and the runtime must tile it (the spec's None would send it a whole photo)."""
    norm = tensor.normalization
    shape = list(tensor.shape)
    if engine_shape is not None and len(engine_shape) == len(shape):
        shape = [own if own is not None else engine for own, engine in zip(shape, engine_shape, strict=True)]
    return {
        "name": actual_name,
        "spec_name": tensor.name,
        "shape": shape,
        "dtype": tensor.dtype,
        "layout": tensor.layout,
        "normalization": (
            {"mean": list(norm.mean), "std": list(norm.std), "color": norm.color} if norm else None
        ),
        "meaning": tensor.meaning,
        "quantization": quantization.get(tensor.name),
    }


def _name_map(spec_tensors: tuple[TensorSpec, ...], actual: list[Any]) -> dict[str, str]:
    """Spec name -> artifact tensor name: by name when kept, else by position and shape."""
    names = [t.name for t in actual]
    mapping = {}
    for index, tensor in enumerate(spec_tensors):
        if tensor.name in names:
            mapping[tensor.name] = tensor.name
            continue
        same_shape = [
            t.name for t in actual
            if len(t.shape) == len(tensor.shape)
            and all(a in (None, b) or b is None for a, b in zip(t.shape, tensor.shape, strict=False))
            and t.name not in mapping.values()
        ]
        mapping[tensor.name] = same_shape[0] if len(same_shape) == 1 else names[index]
    return mapping


class _ModelWork:
    """Intermediate formats of one model, built once and shared by all its targets."""

    def __init__(self, spec: ModelSpec, source: Path, workdir: Path, options: dict[str, Any],
                 progress: Callable[[str], None]) -> None:
        self.spec, self.workdir = spec, workdir
        self.options, self.progress = options, progress
        self.paths: dict[str, Path] = {spec.source_format: source}
        self.notes: list[str] = []

    def context(self, subdir: str, extra: dict[str, Any]) -> graph.ConvertContext:
        directory = self.workdir / subdir
        directory.mkdir(parents=True, exist_ok=True)
        return graph.ConvertContext(
            self.spec, directory, {**self.options, **extra}, self.progress, self.notes
        )

    def reach(self, node: str, extra: dict[str, Any]) -> Path:
        """Path of the model in format `node`, converting along the shortest chain once."""
        if node in self.paths:
            return self.paths[node]
        path = self.paths[self.spec.source_format]
        for a, b in graph.find_path(self.spec.source_format, node):
            if b not in self.paths:
                self.progress(f"{self.spec.name}: {a} -> {b}")
                ctx = self.context(b, extra)
                self.paths[b] = graph.EDGES[(a, b)](self.paths[a], ctx)
            path = self.paths[b]
        return path


def check_out_dir(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output directory {out_dir}: {exc.strerror}") from None
    if not os.access(out_dir, os.W_OK):
        raise OutputError(f"output directory {out_dir} is not writable")


def _numeric_parity(work: _ModelWork, fmt: str) -> dict[str, Any]:
    """Source vs the model's intermediate in format `fmt`, each run by its own framework."""
    spec = work.spec
    run_source = graph.source_runner(work.paths[spec.source_format], spec.source_format,
                                     work.context("parity", {}))
    run_other = graph.source_runner(work.paths[fmt], fmt, work.context(f"parity-{fmt}", {}))
    return parity.compare(spec, run_source, run_other, parity.parity_inputs(spec))




def _run_parity(work: _ModelWork, target: TargetInfo, artifact: Path) -> dict[str, Any]:
    spec = work.spec
    if target.parity_backend is None:
        from edgephoto.convert.coreml_check import check_mlpackage

        numbers: dict[str, Any] = {"structural": check_mlpackage(artifact, spec)}
        # The artifact cannot run here, but the graph handed to its converter can: check that one
        # numerically, so a wrong intermediate (e.g. a mangled SavedModel) fails loudly.
        feeder = graph.find_path(spec.source_format, target.node)[-1][0]
        if feeder != spec.source_format:
            numbers["converter_input"] = {"format": feeder, **_numeric_parity(work, feeder)}
            parity.gate(spec, f"{target.name} (its {feeder} input)", numbers["converter_input"])
        return numbers
    source_run = graph.source_runner(work.paths[spec.source_format], spec.source_format,
                                     work.context("parity", {}))
    exact = dict(BACKENDS.get(target.parity_backend).exact_options)  # the artifact, not a bf16 hint
    backend = load_backend(target.parity_backend, artifact, device="cpu", **exact)
    try:
        in_map = _name_map(spec.inputs, backend.inputs())
        out_map = _name_map(spec.outputs, backend.outputs())

        def run_artifact(feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            result = backend.run({in_map[k]: v for k, v in feed.items()})
            return {name: result[actual] for name, actual in out_map.items()}

        numbers = parity.compare(spec, source_run, run_artifact, parity.parity_inputs(spec))
        numbers["backend"] = backend.describe()
        if spec.source_format in graph.TENSORFLOW_FORMATS:
            from edgephoto.convert.sources.tensorflow import onednn_rewrites_on

            # see convert/__init__.py: only a host that imported TensorFlow first can get True
            numbers["reference_onednn_rewrites"] = onednn_rewrites_on()
            if numbers["reference_onednn_rewrites"]:
                work.notes.append("parity reference ran TensorFlow's oneDNN fused kernels (TensorFlow "
                                  "was imported before edgephoto.convert): CPU-dependent numerics")
        numbers["io_names"] = {"inputs": in_map, "outputs": out_map}
        numbers["engine_shapes"] = _input_shapes(backend, in_map)
    finally:
        backend.close()
    parity.gate(spec, target.name, numbers)
    return numbers


def _input_shapes(backend: Any, in_map: dict[str, str]) -> dict[str, list[int | None]]:
    """Spec input name -> the shape the artifact's engine reports (None for an open dim)."""
    by_name = {t.name: t for t in backend.inputs()}
    return {spec_name: list(by_name[actual].shape) for spec_name, actual in in_map.items()
            if actual in by_name and by_name[actual].shape}


def _engine_input_shapes(spec: ModelSpec, target: TargetInfo, artifact: Path) -> dict[str, list[int | None]]:
    """_input_shapes of a quantized artifact (no parity run loads it); {} when its engine cannot
    load here (Core ML off macOS): the manifest then keeps the spec's shapes."""
    if not target.parity_backend:
        return {}
    try:
        backend = load_backend(target.parity_backend, artifact, device="cpu")
    except EdgePhotoError:
        return {}
    try:
        return _input_shapes(backend, _name_map(spec.inputs, backend.inputs()))
    finally:
        backend.close()


def _extra_facts(work: _ModelWork) -> dict[str, Any]:
    """The spec's extra facts, plus for an open-H/W upscaler the activation bytes per input px
    its ONNX graph needs at its largest step (convert/activation_memory.py), when the conversion
    went through ONNX: the runtime's memory budget plans tiles with it."""
    extra = dict(work.spec.extra)
    onnx_path = work.paths.get("onnx")
    if work.spec.task == "upscale" and onnx_path is not None and "activation_bytes_per_px" not in extra:
        from edgephoto.convert.activation_memory import activation_bytes_per_px

        per_px = activation_bytes_per_px(onnx_path)
        if per_px:
            extra["activation_bytes_per_px"] = per_px
    return extra


def build_artifact(work: _ModelWork, target: TargetInfo, precision: str, out_dir: Path) -> ArtifactResult:
    """Convert, check and install one artifact; failures are returned, not raised."""
    spec = work.spec
    result = ArtifactResult(spec.name, target.name, precision)
    started = time.perf_counter()
    staging = Path(tempfile.mkdtemp(prefix=f".{spec.name}-{target.name}-", dir=out_dir))
    try:
        check_precision(target, precision)
        extra: dict[str, Any] = {"metadata": metadata_for(spec, target.name, precision),
                                 "precision": precision}
        # quantizers may need another format of the same model (TFLite int8 needs the SavedModel)
        extra["reach"] = lambda node: work.reach(node, extra)
        built = work.reach(target.node, extra)
        if target.node == spec.source_format:  # nothing to convert: finalize a copy
            built = graph.finalize(built, target.node, work.context(f"final-{target.name}", extra))
        accuracy: dict[str, Any] = {}
        if precision != "fp32":
            from edgephoto.quantize import quantize_artifact

            built, accuracy = quantize_artifact(
                built, target.name, precision, work.context(f"{target.name}-{precision}", extra)
            )
        artifact = staging / f"{spec.name}{target.suffix}"
        companions = target.companion_files(built)
        (shutil.copytree if built.is_dir() else shutil.copy2)(built, artifact)
        for companion in companions:
            shutil.copy2(companion, artifact.with_suffix(companion.suffix))
        numbers = _run_parity(work, target, artifact) if precision == "fp32" else {}
        engine_shapes = (numbers.pop("engine_shapes", {}) if precision == "fp32"
                         else _engine_input_shapes(spec, target, artifact))
        io_names = numbers.pop("io_names", None) or {
            "inputs": {t.name: t.name for t in spec.inputs},
            "outputs": {t.name: t.name for t in spec.outputs},
        }
        files = [artifact, *[artifact.with_suffix(c.suffix) for c in companions]]
        quantization = integer_quantization(spec, work.paths[spec.source_format])
        manifest: dict[str, Any] = {
            "model": spec.name,
            "task": spec.task,
            "target": target.name,
            "precision": precision,
            # "fp32" means "not quantized by edgephoto": an upstream int8 model stays int8
            "source_precision": "int8" if quantization else "fp32",
            "files": file_entries(staging, files),
            "inputs": [_tensor_entry(t, io_names["inputs"][t.name], quantization, engine_shapes.get(t.name))
                       for t in spec.inputs],
            "outputs": [_tensor_entry(t, io_names["outputs"][t.name], quantization)
                        for t in spec.outputs],
            "extra": _extra_facts(work),
            "scale": spec.scale,
            "tile": spec.tile.__dict__,
            "licence": spec.licence,
            "upstream": spec.upstream,
            "description": spec.description,
            "source_format": spec.source_format,
            "conversion_path": [spec.source_format] + [b for _, b in graph.find_path(spec.source_format, target.node)],
            "tools": tool_versions(),
            "parity": numbers,
            "accuracy": accuracy,
            "notes": list(dict.fromkeys(work.notes)),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        if "savedmodel" in manifest["conversion_path"][1:]:  # integer models pass it dequantized
            from edgephoto.convert.onnx_passes.dequantize import mark_manifest

            mark_manifest(manifest, work.paths["savedmodel"])
        write_manifest(staging, manifest)
        final = artifact_location(out_dir, spec.name, target.name, precision)
        final.parent.mkdir(parents=True, exist_ok=True)
        install_dir(staging, final)  # the old one stays until the new one is in place
        result.ok, result.path, result.parity = True, str(final), numbers or accuracy
        result.size_bytes = sum(entry["bytes"] for entry in manifest["files"])
    except EdgePhotoError as exc:
        result.error, result.error_type = str(exc), type(exc).__name__
        result.parity = getattr(exc, "measured", {}) or {}
    except Exception as exc:  # a converter's own failure: keep going with the other artifacts
        # engines put the useful part after a "where" line: keep the first few lines, joined
        summary = " ".join(line.strip() for line in str(exc).strip().splitlines()[:4])[:400]
        result.error, result.error_type = f"{type(exc).__name__}: {summary}", "ConversionError"
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        result.seconds = round(time.perf_counter() - started, 2)
    return result


def convert_model(
    spec: ModelSpec,
    source: Path,
    targets: list[TargetInfo],
    out_dir: Path,
    *,
    precisions: tuple[str, ...] = ("fp32",),
    options: dict[str, Any] | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> list[ArtifactResult]:
    """Build every (target, precision) artifact of one model into `out_dir/<model>/`."""
    check_out_dir(out_dir)
    results = []
    with tempfile.TemporaryDirectory(prefix=f".work-{spec.name}-", dir=out_dir) as workdir:
        work = _ModelWork(spec, source, Path(workdir), dict(options or {}), progress)
        for target in targets:
            for precision in precisions:
                progress(f"{spec.name} -> {target.name} ({precision})")
                results.append(build_artifact(work, target, precision, out_dir))
    return results
