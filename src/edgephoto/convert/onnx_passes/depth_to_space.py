"""DepthToSpace in CRD order (PyTorch's pixel shuffle) as DCR, TensorFlow's own depth_to_space:
onnx2tf turns CRD into a rank-6 reshape that Core ML refuses.

CRD reads output phase (dy, dx) of channel c from input channel c*b*b + dy*b + dx; DCR from
(dy*b + dx)*C + c. When the input comes from a Conv with constant weights that nothing else
reads, its output channels are permuted into DCR order (exact, no extra op); otherwise a 1x1
Conv with a permutation matrix goes in front (exact).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def crd_to_dcr_order(channels: int, block: int) -> np.ndarray:
    """perm[k] = the CRD channel that DCR channel k must hold."""
    groups = channels // (block * block)
    k = np.arange(channels)
    return (k % groups) * block * block + k // groups


def rewrite(model: Any, channels: dict[str, int]) -> int:
    """Turn every CRD DepthToSpace into DCR; returns how many were rewritten."""
    from onnx import helper, numpy_helper

    inits = {init.name: init for init in model.graph.initializer}
    readers: dict[str, int] = {}
    for node in model.graph.node:
        for name in node.input:
            readers[name] = readers.get(name, 0) + 1
    producer = {out: node for node in model.graph.node for out in node.output}
    done, added = 0, []
    for node in list(model.graph.node):
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type != "DepthToSpace" or attrs.get("mode") != b"CRD":
            continue
        block, x = int(attrs["blocksize"]), node.input[0]
        conv = producer.get(x)
        foldable = (conv is not None and conv.op_type == "Conv" and readers.get(x) == 1
                    and all(name in inits for name in conv.input[1:]))
        if foldable and conv is not None:
            weight = numpy_helper.to_array(inits[conv.input[1]])
            perm = crd_to_dcr_order(weight.shape[0], block)
            for name in conv.input[1:]:
                inits[name].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(inits[name])[perm], name))
        elif x in channels:
            perm = crd_to_dcr_order(channels[x], block)
            matrix = np.eye(channels[x], dtype=np.float32)[perm][:, :, None, None]
            name = f"{node.name or node.output[0]}_to_dcr"
            added.append(numpy_helper.from_array(matrix, f"{name}_w"))
            index = list(model.graph.node).index(node)
            model.graph.node.insert(index, helper.make_node("Conv", [x, f"{name}_w"], [name], name=name,
                                                            kernel_shape=[1, 1]))
            node.input[0] = name
        else:
            continue
        for attribute in node.attribute:
            if attribute.name == "mode":
                attribute.s = b"DCR"
        done += 1
    model.graph.initializer.extend(added)
    return done
