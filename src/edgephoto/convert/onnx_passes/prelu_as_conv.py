"""PRelu with per-channel slopes as two depthwise 1x1 convolutions that onnxruntime fuses.

onnxruntime runs PRelu as a broadcast elementwise kernel outside its blocked (NCHWc) layout, so
every PRelu costs a layout reorder plus a slow broadcast loop: on FSRCNN x4 it was 55 % of the
model's time (ORT profile, 70x70 LR input). The same function, for slope a per channel:

    prelu(y) = y + (1 - a) * relu(-y)

spelled `Add(y, Conv_dw(Relu(Conv_dw(y, -1)), 1 - a))`: ORT fuses the Relu into the first
depthwise conv and the Add into the second, all in NCHWc. Measured on fsrcnn-x4 (1 thread,
onnxruntime 1.32, medians): 3.76 -> 1.87 ms on a 70x70 LR input, 41.7 -> 23.3 ms at 175x250,
278 -> 175 ms at 500x700. Not bit-exact: for y >= 0 the result is y exactly; for y < 0 it is
y + (1-a)(-y) instead of a*y, within a few float32 ulps (max 1e-6 on FSRCNN's outputs),
which the artifact's parity check measures. A scalar slope becomes LeakyRelu, which ORT fuses
into the producing convolution directly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgephoto.convert.onnx_passes.fuse_prelu import STANDARD, static_shapes

PRELU_TAG = "__prelu"  # in the name of every node the rewrite makes (int8 keeps them float)


def _channel_slopes(slope: np.ndarray, channels: int | None) -> np.ndarray | None:
    """The slope as one value per channel of an NCHW input, or None if it is not that (a single
    slope never gets here: it becomes LeakyRelu)."""
    squeezed = slope.reshape(slope.shape[-3:]) if slope.ndim >= 3 and all(d == 1 for d in slope.shape[:-3]) else slope
    if squeezed.ndim == 3 and squeezed.shape[1:] == (1, 1) and squeezed.shape[0] == channels:
        return squeezed.reshape(-1).astype(np.float32)
    return None


def prelu_as_conv(model: Any) -> tuple[Any, int]:
    """A copy of `model` with each 4-D float32 PRelu rewritten (see the module docstring);
    returns (model, count). PRelu nodes whose input rank or channel count is unknown stay."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.ModelProto.FromString(model.SerializeToString())  # never mutate the caller's
    graph = model.graph
    if not any(n.op_type == "PRelu" and n.domain in STANDARD for n in graph.node):
        return model, 0
    consts = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    shapes = static_shapes(model)
    nodes, count, slopes = [], 0, set()
    for node in graph.node:
        slope = consts.get(node.input[1]) if node.op_type == "PRelu" and len(node.input) == 2 else None
        shape = shapes.get(node.input[0]) if slope is not None else None
        if (slope is None or slope.dtype != np.float32 or node.domain not in STANDARD or not shape
                or len(shape) != 4):
            nodes.append(node)
            continue
        x, out, tag = node.input[0], node.output[0], f"{node.name or node.output[0]}{PRELU_TAG}"
        if slope.size == 1:  # one slope for all channels: LeakyRelu, fused into the conv by ORT
            nodes.append(helper.make_node("LeakyRelu", [x], [out], name=tag, alpha=float(slope.reshape(-1)[0])))
            count += 1
            slopes.add(node.input[1])
            continue
        per_channel = _channel_slopes(slope, shape[1])
        if per_channel is None:
            nodes.append(node)
            continue
        c = per_channel.size
        negate, keep = f"{tag}_neg_w", f"{tag}_keep_w"
        graph.initializer.extend([
            numpy_helper.from_array(np.full((c, 1, 1, 1), -1.0, np.float32), negate),
            numpy_helper.from_array((1.0 - per_channel).reshape(c, 1, 1, 1).astype(np.float32), keep),
        ])
        nodes += [
            helper.make_node("Conv", [x, negate], [f"{tag}_neg"], name=f"{tag}_neg", group=c, kernel_shape=[1, 1]),
            helper.make_node("Relu", [f"{tag}_neg"], [f"{tag}_relu"], name=f"{tag}_relu"),
            helper.make_node("Conv", [f"{tag}_relu", keep], [f"{tag}_keep"], name=f"{tag}_keep", group=c,
                             kernel_shape=[1, 1]),
            helper.make_node("Add", [x, f"{tag}_keep"], [out], name=tag),
        ]
        count += 1
        slopes.add(node.input[1])
    if count:
        del graph.node[:]
        graph.node.extend(nodes)
        used = {i for n in graph.node for i in n.input} | {o.name for o in graph.output}
        kept = [i for i in graph.initializer if i.name in used or i.name not in slopes]
        del graph.initializer[:]
        graph.initializer.extend(kept)
    return model, count
