"""Tiny ONNX artifacts written in the test (onnx.helper + edgephoto.manifest), for fast runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgephoto.manifest import file_entries, write_manifest


def tiny_artifact(root: Path, name: str = "tiny", *, size: int = 16, layout: str = "NHWC",
                  color: str = "RGB", precision: str = "fp32", convs: int = 1) -> Path:
    """An artifact directory holding a `convs`-deep 3x3 conv net and its manifest."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    channels = 1 if color == "Y" else 3
    shape = [1, size, size, channels] if layout == "NHWC" else [1, channels, size, size]
    rng = np.random.default_rng(0)
    nodes, inits = [], []
    current = "x"
    if layout == "NHWC":
        nodes.append(helper.make_node("Transpose", ["x"], ["x_nchw"], perm=[0, 3, 1, 2]))
        current = "x_nchw"
    for k in range(convs):
        w = numpy_helper.from_array(rng.normal(0, 0.1, (channels, channels, 3, 3)).astype(np.float32), f"w{k}")
        inits.append(w)
        nodes.append(helper.make_node("Conv", [current, f"w{k}"], [f"c{k}"], pads=[1, 1, 1, 1]))
        current = f"c{k}"
    if layout == "NHWC":
        nodes.append(helper.make_node("Transpose", [current], ["y"], perm=[0, 2, 3, 1]))
    else:
        nodes.append(helper.make_node("Identity", [current], ["y"]))
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    directory = root / f"{name}-{precision}-{layout.lower()}"
    directory.mkdir(parents=True)
    onnx.save(model, directory / f"{name}.onnx")
    tensor: dict[str, Any] = {"name": "x", "shape": shape, "dtype": "float32", "layout": layout,
                              "normalization": {"mean": [0.0], "std": [255.0], "color": color}}
    write_manifest(directory, {
        "model": name, "task": "segmentation", "target": "onnx", "precision": precision,
        "files": file_entries(directory, [directory / f"{name}.onnx"]),
        "inputs": [tensor], "outputs": [{**tensor, "name": "y", "normalization": None}],
        "scale": 1, "tile": {"mode": "whole", "tile": size, "overlap": 0, "receptive_field": 0},
        "parity": {"metric": "iou", "outputs": {"y": {"max_abs": 1e-6, "mean_abs": 1e-7, "metric": 0.998}}},
        "accuracy": {"drop": 0.004, "limit": {"metric": "iou", "max_drop": 0.02, "unit": "IoU"}}
        if precision != "fp32" else {},
    })
    return directory
