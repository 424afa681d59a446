"""Bytes of activations per input pixel of an open-H/W model, from its ONNX graph.

The runtime splits a photo for a dynamic-size upscaler so that one engine call fits a memory
budget (runtime/tasks/upscale.budget_px). Its built-in estimate (input, two 64-channel maps at
input size, the output) fits FSRCNN and the compact Real-ESRGAN models, but RRDBNet
(realesrgan-x4plus) upsamples first and then runs two 64-channel convs at four times the width
and height: 8.4 kB per input px against the estimate's 0.7 kB, and a 12 MP photo in three engine
calls peaked at 4.6 GB. The graph itself says how large its largest step is; convert records it
in the manifest and the runtime plans with the larger of the two.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

PROBE = 32  # px per side the open H/W are set to for shape inference (any size: bytes scale with H*W)
_BYTES = {1: 4, 10: 2}  # FLOAT, FLOAT16


def activation_bytes_per_px(path: Path, probe: int = PROBE) -> int | None:
    """Largest step of the graph (one node's activation inputs and outputs together) plus the
    graph's input and output, in bytes per input pixel; None when the shapes cannot be inferred
    (a graph shape inference does not follow, or fixed H/W: no budget to plan)."""
    import onnx
    from onnx import shape_inference

    model = onnx.load(str(path))
    dims = model.graph.input[0].type.tensor_type.shape.dim
    if len(dims) != 4 or all(d.dim_value > 0 for d in dims[1:]):
        return None
    for axis, d in enumerate(dims):
        if d.dim_value <= 0:
            d.Clear()
            d.dim_value = 1 if axis == 0 else probe
    for output in model.graph.output:  # let inference fill them from the probe size
        for d in output.type.tensor_type.shape.dim:
            d.Clear()
    try:
        model = shape_inference.infer_shapes(model, data_prop=True)
    except Exception:  # an op inference does not know: no figure rather than a wrong one
        return None
    sizes: dict[str, int] = {}
    for info in [*model.graph.value_info, *model.graph.input, *model.graph.output]:
        tensor = info.type.tensor_type
        shape = [d.dim_value for d in tensor.shape.dim]
        if tensor.elem_type in _BYTES and shape and all(v > 0 for v in shape):
            sizes[info.name] = int(np.prod(shape)) * _BYTES[tensor.elem_type]
    weights = {t.name for t in model.graph.initializer}
    if any(o.name not in sizes for o in model.graph.output):
        return None
    step = max((sum(sizes.get(name, 0) for name in [*node.input, *node.output] if name and name not in weights)
                for node in model.graph.node), default=0)
    ends = sizes.get(model.graph.input[0].name, 0) + sum(sizes[o.name] for o in model.graph.output)
    return int(np.ceil((step + ends) / probe**2))
