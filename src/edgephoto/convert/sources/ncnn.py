"""The `ncnn` source: a `.param`/`.bin` pair (the .bin beside the .param) becomes an ONNX graph
built layer by layer (ncnn_layers.py), and from ONNX every other target. Parity runs the model
in ncnn itself (the PyPI `ncnn` wheel, CPU, fp32 storage and arithmetic).

Weights stored fp16 in the .bin are widened to fp32 exactly, as ncnn does when it loads them,
so the ONNX graph computes with the same weight values ncnn uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgephoto.convert.graph import ConvertContext, Runner, register_source_runner
from edgephoto.convert.sources.ncnn_format import NcnnModel, read_model
from edgephoto.errors import InputFileError, require

OPSET = 17


def io_names(model: NcnnModel) -> tuple[list[str], list[str]]:
    """Input blobs (tops of Input layers) and output blobs (tops nothing consumes)."""
    inputs = [top for layer in model.layers if layer.type == "Input" for top in layer.tops]
    consumed = {bottom for layer in model.layers for bottom in layer.bottoms}
    outputs = [top for layer in model.layers for top in layer.tops
               if top not in consumed and layer.type != "Input"]
    return inputs, outputs


def build_onnx(model: NcnnModel) -> Any:
    """The ONNX ModelProto (opset 17, NCHW, batch 1, open H/W) computing the layer table."""
    onnx = require("onnx", "convert", "converting ncnn models")
    from onnx import TensorProto, helper, numpy_helper

    from edgephoto.convert.sources.ncnn_layers import OnnxParts, input_channels, kind_of

    parts = OnnxParts(helper, numpy_helper)
    for layer in model.layers:
        kind_of(layer).build(layer, parts)
    inputs, outputs = io_names(model)
    if len(inputs) != 1:
        raise InputFileError(model.param_path, f"{len(inputs)} Input layers; one image input is supported")
    channels = input_channels(model.layers, inputs[0])
    if not channels:
        raise InputFileError(model.param_path, f"cannot tell the channels of input '{inputs[0]}'")
    produced = {out for node in parts.nodes for out in node.output}
    graph_outputs = []
    for name in outputs:
        real = parts.blob(name)
        if real not in produced or real != name:  # an output that is an alias: copy it out
            parts.node("Identity", [real], [name], f"{name}_out")
        graph_outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, None, None, None]))
    graph = helper.make_graph(
        parts.nodes, model.param_path.stem,
        [helper.make_tensor_value_info(inputs[0], TensorProto.FLOAT, [1, channels, "height", "width"])],
        graph_outputs, initializer=parts.initializers)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="edgephoto ncnn reader")
    proto.ir_version = 8  # loads in every onnxruntime (web included) that runs opset 17
    _resizes_as_conv(proto)
    onnx.checker.check_model(proto)
    return proto


def _resizes_as_conv(proto: Any) -> int:
    """Nearest and bicubic resizes by a fixed factor become exact convolutions (TFLite has no
    bicubic op; Core ML cannot size onnx2tf's run-time-sized resizes), and pixel shuffles take
    TensorFlow's channel order (Core ML refuses onnx2tf's rank-6 reshape for the other)."""
    from onnx import shape_inference

    from edgephoto.convert.onnx_passes import depth_to_space, resize_as_conv

    inferred = shape_inference.infer_shapes(proto)
    channels = {}
    for value in list(inferred.graph.value_info) + list(inferred.graph.input):
        dims = value.type.tensor_type.shape.dim
        if len(dims) == 4 and dims[1].dim_value > 0:
            channels[value.name] = int(dims[1].dim_value)
    return resize_as_conv.rewrite(proto, channels) + depth_to_space.rewrite(proto, channels)


def onnx_from_ncnn(path: Path, ctx: ConvertContext) -> Any:
    """The ONNX model of an ncnn .param/.bin (the ncnn -> onnx edge lives in targets/onnx.py)."""
    model = read_model(Path(path))
    kinds = model.storage_kinds()
    ctx.notes.append(f"ncnn: {len(model.layers)} layers read; weights stored {', '.join(kinds) or 'none'}, "
                     "computed in fp32")
    return build_onnx(model)


def ncnn_net(path: Path, threads: int = 1) -> Any:
    """ncnn's own Net for `path` (its .bin beside it): CPU, fp32 storage and arithmetic."""
    ncnn = require("ncnn", "convert", "ncnn parity")
    path = Path(path)
    read_model(path)  # a clear InputFileError before ncnn's own loader sees a bad file
    net = ncnn.Net()
    for flag in ("use_vulkan_compute", "use_fp16_packed", "use_fp16_storage", "use_fp16_arithmetic",
                 "use_bf16_storage", "use_int8_inference"):
        setattr(net.opt, flag, False)
    net.opt.num_threads = threads
    if net.load_param(str(path)) != 0 or net.load_model(str(path.with_suffix(".bin"))) != 0:
        raise InputFileError(path, "ncnn refused the model")
    return net


def run_ncnn(net: Any, feeds: dict[str, np.ndarray], outputs: list[str]) -> dict[str, np.ndarray]:
    """Run NCHW batch-1 feeds (ncnn blob names) through `net`; NCHW outputs."""
    import ncnn

    # ncnn.Mat(array) borrows the array's memory: keep every array alive until the extracts
    arrays = {name: np.ascontiguousarray(np.asarray(value, np.float32)[0]) for name, value in feeds.items()}
    mats = {name: ncnn.Mat(array) for name, array in arrays.items()}
    with net.create_extractor() as ex:
        for name, mat in mats.items():
            ex.input(name, mat)
        result = {}
        for name in outputs:
            status, mat = ex.extract(name)
            if status != 0:
                raise InputFileError(name, f"ncnn could not compute blob '{name}' (status {status})")
            result[name] = np.array(mat)[None]
    return result


@register_source_runner("ncnn")
def ncnn_runner(path: Path, ctx: ConvertContext) -> Runner:
    """The model run by ncnn itself; spec names are the ncnn blob names."""
    net = ncnn_net(Path(path), int(ctx.options.get("threads", 1)))
    in_names = [t.name for t in ctx.spec.inputs]
    out_names = [t.name for t in ctx.spec.outputs]

    def run(feeds: dict[str, Any]) -> dict[str, Any]:
        return run_ncnn(net, {name: feeds[name] for name in in_names}, out_names)

    return run


def inspect(path: Path) -> tuple[list[tuple[str, tuple]], list[tuple[str, tuple]]]:
    """Input/output names and shapes for a user's ncnn model (NCHW, H/W open)."""
    from edgephoto.convert.sources.ncnn_layers import input_channels

    model = read_model(Path(path))
    inputs, outputs = io_names(model)
    return ([(name, (1, input_channels(model.layers, name) or None, None, None)) for name in inputs],
            [(name, ()) for name in outputs])
