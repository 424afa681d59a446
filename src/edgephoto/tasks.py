"""The task table: every per-task fact in one place, data only (no framework imports).

Convert (parity tolerances, user-model defaults, sanity rules), quantize (accuracy limits and
scorers, calibration range, float edges, holdout references), the runtime (which function runs
the task, what it returns) and the pipeline (role, default zoo model) all read this table.
Adding a task is one entry here plus its runtime file (`runner`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from edgephoto.registry import Registry
from edgephoto.zoo.spec import Normalization


@dataclass(frozen=True)
class Tolerance:
    """Parity gate for one task at one precision: the task metric's bound, and a raw-error bound."""

    metric: str
    bound: float
    higher_is_better: bool
    max_abs: float | None = None  # on outputs in model space; None = not gated

    def passes(self, value: float) -> bool:
        return value >= self.bound if self.higher_is_better else value <= self.bound


@dataclass(frozen=True)
class Limit:
    """How much of the task metric quantization may cost before the guard refuses it."""

    metric: str
    limit: float
    unit: str


GENERIC_TOLERANCE = Tolerance("rel_error", 1e-3, False)
GENERIC_LIMIT = Limit("rel_error", 0.05, "relative error")
# Integer (quantized) outputs: engines round differently, so judge in quantization steps.
INTEGER_TOLERANCE = Tolerance("mean_steps", 0.5, False, max_abs=3.0)


@dataclass(frozen=True)
class Task:
    name: str
    runner: str  # "module:function" that runs it on a photo (imported when first used)
    returns: str  # what the runner gives back, for docs and the CLI
    parity: Tolerance  # float conversions must agree this closely with the source
    limit: Limit = GENERIC_LIMIT  # the quantization accuracy guard's default
    scorer: Literal["upscale", "masks", "alpha", "depth", "generic"] = "generic"  # quantize/accuracy.py
    # ONNX Runtime calibration range (CalibrationMethod name, extra options as pairs)
    calibration: tuple[str, tuple[tuple[str, float], ...]] = ("MinMax", ())
    float_edges: bool = False  # int8 keeps the first conv and the output head float by default
    holdout_reference: Literal["hr_crops", "masks", None] = None  # what held-out photos are scored on
    normalization: Normalization = Normalization(std=(255.0,))  # a user model's default input mapping
    tiled: bool = False  # user models: tiles of the input size ('tile'), else the whole photo resized
    # the output is an image in the input's values, `scale` times the input size (measured on users' models)
    image_output: bool = False
    sanity: Literal["upscale", "mask", None] = None  # user models' after-conversion check (user_check.py)
    role: str | None = None  # the artifact role pipeline steps ask for
    role_per_scale: bool = False  # role is f"{role}{scale}" (upscale2, upscale4, ...)
    default_model: str | None = None  # permissive zoo model built when the role has no artifact
    default_scale: int = 1  # the default model's scale (names its role when role_per_scale)

    def role_for(self, scale: int = 1) -> str | None:
        if self.role is None:
            return None
        return f"{self.role}{scale}" if self.role_per_scale else self.role


TASKS: Registry[Task] = Registry("task")
for _task in (
    Task(
        "depth", "edgephoto.runtime.tasks.depth:estimate_depth", "DepthResult: float32 (H, W) depth + global pass",
        parity=Tolerance("spearman", 0.99, True),
        limit=Limit("delta1", 1.0, "delta1 points"), scorer="depth", tiled=True,
        role="depth", default_model="fastdepth",
    ),
    Task(
        "segmentation", "edgephoto.runtime.tasks.segmentation:segment", "float32 (H, W) person probability 0..1",
        parity=Tolerance("iou", 0.99, True, max_abs=0.02),
        limit=Limit("iou", 1.0, "IoU points"), scorer="masks",
        calibration=("Percentile", (("CalibPercentile", 99.99),)), float_edges=True, holdout_reference="masks",
        sanity="mask", role="segmentation", default_model="selfie",
    ),
    Task(
        # No default model: the matte step refines the segmentation mask. The permissive zoo
        # models modnet and u2netp run when a matting artifact is given (--artifacts); on portraits
        # 1-150 neither beat that default on mean IoU/MSE (paired intervals include 0), at ~14x
        # its CPU time, and a default would add a MODNet build (~3 min here) to the README's first
        # command (benchmarks/results/matting_quality.md).
        "matting", "edgephoto.runtime.tasks.matting:matte", "float32 (H, W) alpha 0..1",
        parity=Tolerance("iou", 0.99, True, max_abs=0.02),
        limit=Limit("iou", 1.0, "IoU points"), scorer="alpha",
        calibration=("Percentile", (("CalibPercentile", 99.99),)), float_edges=True, holdout_reference="masks",
        sanity="mask", role="matting",
    ),
    Task(
        "face_detection", "edgephoto.runtime.tasks.face:detect_faces", "list[Face] in photo px",
        parity=Tolerance("rel_error", 1e-3, False),
        normalization=Normalization(mean=(127.5,), std=(127.5,)),
        role="face_detection", default_model="blazeface",
    ),
    Task(
        "face_landmarks", "edgephoto.runtime.tasks.face:face_landmarks", "Landmarks (468, 3) in photo px",
        parity=Tolerance("rel_error", 1e-3, False),
        role="face_landmarks", default_model="facemesh",
    ),
    Task(
        "upscale", "edgephoto.runtime.tasks.upscale:upscale", "uint8 (H*s, W*s, 3) photo",
        parity=Tolerance("psnr", 50.0, True),
        limit=Limit("psnr", 0.5, "dB"), scorer="upscale", float_edges=True, holdout_reference="hr_crops",
        normalization=Normalization(std=(1.0,)), tiled=True, image_output=True, sanity="upscale",
        role="upscale", role_per_scale=True, default_model="fsrcnn-x2", default_scale=2,
    ),
):
    TASKS.add(_task.name, _task)

def default_models() -> dict[str, str]:
    """role -> the permissive zoo model converted when no artifact is there."""
    return {t.role_for(t.default_scale): t.default_model for _, t in TASKS  # type: ignore[misc]
            if t.role and t.default_model}


def roles() -> tuple[str, ...]:
    """Every artifact role a pipeline step may ask for."""
    return tuple(t.role_for(t.default_scale) for _, t in TASKS if t.role)  # type: ignore[misc]


def role_of(task: str, scale: int = 1) -> str:
    """The role an artifact of `task` (at `scale`) fills in a pipeline."""
    return TASKS.get(task).role_for(scale) or task
