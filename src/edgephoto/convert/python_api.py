"""Convert a live PyTorch module from Python: `edgephoto.convert.python_api.convert_torch`.

The module is described like a zoo entry (task, fixed input shape, normalisation, scale) and then
goes through the same graph, parity checks and manifests as every other model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from edgephoto.convert.api import ArtifactResult, convert_model
from edgephoto.convert.targets import parse_targets
from edgephoto.errors import InvalidOptionError
from edgephoto.tasks import TASKS
from edgephoto.zoo.spec import ModelSpec, Normalization, TensorSpec, TilePolicy


def torch_spec(
    name: str,
    *,
    task: str,
    input_shape: Sequence[int],
    output_shapes: Sequence[Sequence[int]],
    layout: str = "NCHW",
    normalization: Normalization | None = None,
    scale: int = 1,
    input_name: str = "image",
    output_names: Sequence[str] = ("output",),
    licence: str = "user-supplied",
) -> ModelSpec:
    """A ModelSpec for a module that takes one image tensor (NCHW, as PyTorch models do)."""
    facts = TASKS.get(task)  # unknown names raise with the valid ones
    if len(output_names) != len(output_shapes):
        raise InvalidOptionError("give one output name per output shape")
    norm = normalization or facts.normalization
    h, w = (input_shape[2], input_shape[3]) if layout == "NCHW" else (input_shape[1], input_shape[2])
    return ModelSpec(
        name=name,
        task=task,
        source_format="torch",
        files=(),
        inputs=(TensorSpec(input_name, tuple(input_shape), layout=layout, normalization=norm),),  # type: ignore[arg-type]
        outputs=tuple(
            TensorSpec(n, tuple(s), layout=layout if len(s) == 4 else "NHWC")  # type: ignore[arg-type]
            for n, s in zip(output_names, output_shapes, strict=True)
        ),
        tile=TilePolicy("tile" if facts.tiled else "whole", max(h, w), 16, 16),
        licence=licence,
        description=f"PyTorch module {name}",
        upstream="PyTorch module passed through the Python API",
        scale=scale,
    )


def convert_torch(
    module: Any,
    spec: ModelSpec,
    out_dir: Path,
    *,
    targets: str = "onnx,tflite,openvino,coreml",
    precisions: tuple[str, ...] = ("fp32",),
    progress: Callable[[str], None] = lambda message: None,
) -> list[ArtifactResult]:
    """Convert `module` (a torch.nn.Module) to each target; parity runs the module itself."""
    return convert_model(
        spec, Path(out_dir) / f".{spec.name}.module", parse_targets(targets), Path(out_dir),
        precisions=precisions, options={"torch_module": module}, progress=progress,
    )
