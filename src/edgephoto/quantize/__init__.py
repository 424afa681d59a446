"""Quantize a float artifact to a lower precision, and measure what it cost.

The algorithm side (calibration photos, held-out photos, task metrics, the drop guard) knows no
framework; each target is one file (`onnx.py`, `tflite.py`, `openvino.py`, `coreml.py`) that
registers a quantizer for its target name and is imported only when that target is asked for.
Entry point: `quantize_artifact(float_path, target, precision, ctx)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgephoto.convert.public import ConvertContext
from edgephoto.convert.targets import TARGETS, check_precision
from edgephoto.errors import AccuracyDropError, InvalidOptionError
from edgephoto.quantize import accuracy
from edgephoto.quantize.calibration import (
    DEFAULT_HOLDOUT,
    DEFAULT_SUBSET,
    CalibrationSet,
    calibration_dataset,
)
from edgephoto.registry import Registry
from edgephoto.tasks import TASKS
from edgephoto.zoo.spec import ModelSpec


@dataclass
class QuantResult:
    """What a target quantizer built: the file, what stayed float, and how it was made."""

    path: Path
    method: str
    kept_float: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    accuracy: dict[str, Any] | None = None  # set when the quantizer already measured it


@dataclass
class QuantJob:
    """Everything a target quantizer may need, with calibration and evaluation built lazily."""

    spec: ModelSpec
    target: str
    precision: str
    source: Path  # the float artifact
    workdir: Path
    backend: str | None  # runtime backend that runs this target here (None: cannot measure)
    options: dict[str, Any]
    progress: Callable[[str], None]
    limit: accuracy.Limit
    calib_dir: Path | None = None
    subset_size: int = DEFAULT_SUBSET
    accuracy_control: bool = False
    float_edges: bool = False  # keep first conv + output head float (see onnx.py)
    holdout_size: int = DEFAULT_HOLDOUT
    notes: list[str] = field(default_factory=list)
    _calibration: CalibrationSet | None = None
    _float_outputs: dict[int, Any] = field(default_factory=dict)

    def calibration(self) -> CalibrationSet:
        if self._calibration is None:
            self._calibration = calibration_dataset(
                self.spec, self.calib_dir, subset_size=self.subset_size,
                holdout_size=self.holdout_size, progress=self.progress,
            )
        return self._calibration

    def reach(self, node: str) -> Path:
        """The same model in another graph format (e.g. the SavedModel for TFLite int8)."""
        reach = self.options.get("reach")
        if reach is None:
            raise InvalidOptionError(
                f"{self.target} {self.precision} needs the model as {node}; quantize it through "
                f"`edgephoto convert --quantize` or `edgephoto quantize` of a zoo artifact"
            )
        return Path(reach(node))

    def evaluate(self, path: Path) -> dict[str, Any]:
        """Task metrics of `path` against the float artifact on the held-out photos."""
        assert self.backend is not None
        holdout = self.calibration().holdout
        if not self._float_outputs:
            run_float, close = accuracy.open_runner(self.backend, self.source, self.spec)
            try:
                self._float_outputs = {i: run_float(s.feed) for i, s in enumerate(holdout)}
            finally:
                close()
        run_quant, close = accuracy.open_runner(self.backend, path, self.spec)
        cached = {id(s.feed): self._float_outputs[i] for i, s in enumerate(holdout)}
        try:
            return accuracy.measure(self.spec, lambda feed: cached[id(feed)], run_quant, holdout)
        finally:
            close()

    def passes(self, numbers: dict[str, Any]) -> bool:
        return bool(numbers["drop"] <= self.limit.limit)


def edge_layers(ops: list[tuple[str, str]], conv_types: tuple[str, ...], passive_types: tuple[str, ...]) -> list[str]:
    """Names of the first conv, the last conv and the computing ops after it (the output head),
    from (name, op type) pairs in topological order; the engines' quantizers keep them float
    (why: quantize/onnx.py). Ops of `passive_types` hold no arithmetic and are left out."""
    convs = [i for i, (_, kind) in enumerate(ops) if kind in conv_types]
    if not convs:
        return []
    head = [name for name, kind in ops[convs[-1]:] if kind not in passive_types]
    return list(dict.fromkeys([ops[convs[0]][0], *head]))


# Accuracy control stops here: an "int8" model with more than half of its ranked layers float is
# neither small nor fast, so the honest answer is a refusal that points at fp16 / int8-dynamic.
MAX_FLOAT_SHARE = 0.5


def keep_float_until_within(
    job: QuantJob, ranking: list[str], build: Callable[[list[str], int], Path], what: str
) -> tuple[Path, list[str], dict[str, Any], int]:
    """Accuracy control shared by the targets: rebuild with the 1, 2, 4... most sensitive of
    `ranking` kept float until the drop is within the limit.

    `build(kept, round)` writes one candidate. Returns (path, kept, accuracy numbers, rounds);
    raises AccuracyDropError once MAX_FLOAT_SHARE of the ranking is float and it still fails."""
    cap = max(1, int(len(ranking) * MAX_FLOAT_SHARE))
    count, rounds = 1, 0
    while True:
        rounds += 1
        kept = ranking[:count]
        job.progress(f"{job.spec.name}: {job.target} accuracy control, {count} {what} kept float")
        out = build(kept, rounds)
        numbers = job.evaluate(out)
        if job.passes(numbers):
            return out, kept, numbers, rounds
        if count >= cap:
            raise AccuracyDropError(
                job.limit.metric, numbers["drop"], job.limit.limit, {**numbers, "kept_float": kept},
                why=f"still over with {count} of {len(ranking)} {what} kept float; "
                    f"fp16 or int8-dynamic keep the accuracy",
            )
        count = min(2 * count, cap)


Quantizer = Callable[[QuantJob], QuantResult]
# one module per target that offers more than fp32 (quantize/<target>.py registers itself)
QUANTIZERS: Registry[Quantizer] = Registry(
    "quantizer",
    modules=tuple(f"edgephoto.quantize.{name}" for name, info in TARGETS if len(info.precisions) > 1),
)
NEEDS_CALIBRATION = {"int8", "int8-io"}


def _float_edges_by_default(task: str) -> bool:
    """The task table's rule: whether int8 keeps the first conv and output head float (measured:
    see onnx.py)."""
    return task in TASKS and TASKS.get(task).float_edges


def quantize_artifact(
    path: Path, target: str, precision: str, ctx: ConvertContext
) -> tuple[Path, dict[str, Any]]:
    """Quantize the float artifact at `path`; returns (quantized path, accuracy for the manifest).

    ctx.options may carry: calib_dir, subset_size, holdout_size, accuracy_control (bool),
    float_edges (bool; default: True for upscale/segmentation/matting), max_drop (float, in the task metric's
    unit), reach (format -> path), metadata (flat dict to embed).
    Raises InvalidOptionError for a precision the target cannot do, AccuracyDropError when the
    measured drop is beyond the limit.
    """
    info = TARGETS.get(target)
    check_precision(info, precision)
    if precision == "fp32":
        return path, {}
    integer = [t.name for t in (*ctx.spec.inputs, *ctx.spec.outputs) if t.dtype in ("uint8", "int8")]
    if integer and target != "coreml":  # Core ML compresses the weights of its float equivalent
        raise InvalidOptionError(
            f"{ctx.spec.name} is already quantized upstream (integer tensors {', '.join(integer)}): "
            f"its fp32 artifact on {target} is the int8 model; there is nothing to quantize"
        )
    options = ctx.options
    calib = options.get("calib_dir")
    job = QuantJob(
        spec=ctx.spec, target=target, precision=precision, source=Path(path), workdir=ctx.workdir,
        backend=info.parity_backend, options=options, progress=ctx.progress,
        limit=accuracy.limit_for(ctx.spec, options.get("max_drop")),
        calib_dir=Path(calib) if calib else None,
        subset_size=int(options.get("subset_size") or DEFAULT_SUBSET),
        accuracy_control=bool(options.get("accuracy_control")),
        float_edges=bool(options.get("float_edges", _float_edges_by_default(ctx.spec.task))),
        holdout_size=int(options.get("holdout_size") or DEFAULT_HOLDOUT),
    )
    ctx.progress(f"{ctx.spec.name}: quantizing {target} -> {precision}")
    result = QUANTIZERS.get(target)(job)
    report: dict[str, Any] = {
        "precision": precision,
        "method": result.method,
        "kept_float": result.kept_float,
        **result.details,
        "limit": {"metric": job.limit.metric, "max_drop": job.limit.limit, "unit": job.limit.unit},
    }
    if job.backend is None:
        report["measured"] = False
        report["why_not_measured"] = f"no runtime backend for {target} on this platform"
    else:
        numbers = result.accuracy or job.evaluate(result.path)
        report.update(numbers, measured=True)
        ctx.notes.extend(job.notes)
        if job._calibration is not None:
            report["data"] = job._calibration.describe()
        accuracy.guard(job.spec, report, job.limit)
    if job._calibration is not None:
        report["data"] = job._calibration.describe()
    report["notes"] = job.notes
    return result.path, report


__all__ = ["QUANTIZERS", "QuantJob", "QuantResult", "quantize_artifact", "calibration_dataset"]
