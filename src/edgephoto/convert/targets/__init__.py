"""The table of targets: capabilities as data (suffix, companion files, precisions, options).

The CLI, validation and docs all read this one table. Converter code for a target lives in
`targets/<name>.py` as registered graph edges.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from edgephoto.errors import InvalidOptionError, did_you_mean
from edgephoto.registry import Registry


@dataclass(frozen=True)
class TargetInfo:
    name: str
    node: str  # format node in the conversion graph
    suffix: str  # artifact file (or directory) suffix
    precisions: tuple[str, ...]  # what `--quantize` may ask for on this target
    options: tuple[str, ...]  # target-specific options it accepts
    companions: tuple[str, ...] = ()  # files beside the artifact, same stem (OpenVINO's .bin weights)
    extra: str = "convert"
    note: str = ""

    @property
    def backend(self) -> str | None:
        """The runtime backend that runs this target's artifacts (its BackendInfo says so)."""
        from edgephoto.runtime.backends import backend_for_target

        return backend_for_target(self.name)

    @property
    def parity_backend(self) -> str | None:
        """The backend parity runs the artifact with here; None when it cannot run on this
        platform (Core ML predict needs macOS), so parity is structural."""
        from edgephoto.runtime.backends import BACKENDS

        name = self.backend
        return name if name is not None and sys.platform in BACKENDS.get(name).platforms else None

    def companion_files(self, artifact: Path) -> list[Path]:
        return [artifact.with_suffix(suffix) for suffix in self.companions]


TARGETS: Registry[TargetInfo] = Registry("target")
for _info in (
    TargetInfo(
        "onnx", "onnx", ".onnx",
        precisions=("fp32", "fp16", "int8", "int8-dynamic"),
        options=("opset",),
        note="opset 17 by default (loads in onnxruntime-web); metadata in metadata_props",
    ),
    TargetInfo(
        "tflite", "tflite", ".tflite",
        precisions=("fp32", "fp16", "int8-dynamic", "int8", "int8-io"),
        options=(),
        note="metadata in the flatbuffer's metadata table",
    ),
    TargetInfo(
        "openvino", "openvino", ".xml",
        precisions=("fp32", "fp16", "int8"),
        options=("inference_precision",),
        companions=(".bin",),
        note="IR .xml/.bin; metadata in rt_info",
    ),
    TargetInfo(
        "coreml", "coreml", ".mlpackage",
        precisions=("fp32", "fp16", "int8-weights", "int4-weights", "palettize"),
        options=("image_input", "minimum_deployment_target"),
        note="mlprogram .mlpackage; predict() needs macOS, so parity is structural on Linux",
    ),
):
    TARGETS.add(_info.name, _info)


def parse_targets(text: str) -> list[TargetInfo]:
    """'onnx,tflite' or 'all' -> TargetInfo list (unknown names raise with a suggestion)."""
    names = TARGETS.names() if text.strip() == "all" else [t.strip() for t in text.split(",") if t.strip()]
    return [TARGETS.get(name) for name in names]


def check_options(target: TargetInfo, options: Iterable[str]) -> None:
    """Refuse options the target does not accept, suggesting the nearest valid one."""
    for option in options:
        if option not in target.options:
            hint = did_you_mean(option, target.options)
            valid = ", ".join(target.options) or "none"
            raise InvalidOptionError(
                f"target '{target.name}' does not accept option '{option}'.{hint} Valid: {valid}"
            )


def check_precision(target: TargetInfo, precision: str) -> None:
    if precision not in target.precisions:
        hint = did_you_mean(precision, target.precisions)
        raise InvalidOptionError(
            f"target '{target.name}' cannot do precision '{precision}'.{hint} "
            f"Valid: {', '.join(target.precisions)}"
        )
