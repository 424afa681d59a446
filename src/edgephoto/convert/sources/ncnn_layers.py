"""One builder per ncnn layer type: which weight blobs it reads from the .bin, and the ONNX
nodes it becomes. Registered by decorator; a type with no builder is an UnsupportedOpError
naming the type and the layer.

ncnn blobs are CHW (no batch axis); the ONNX graph is NCHW with batch 1, so an ncnn axis a >= 0
is ONNX axis a + 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgephoto.errors import InputFileError, UnsupportedOpError

ParamValue = int | float | list[int | float]

WeightBlobs = list[tuple[str, int, bool]]  # (name, element count, tagged)


@dataclass
class Layer:
    type: str
    name: str
    bottoms: list[str]
    tops: list[str]
    params: dict[int, ParamValue]
    weights: dict[str, np.ndarray] = field(default_factory=dict)
    storage: str = ""  # how the tagged weight was stored (fp16/fp32/...), for the notes

    def get_int(self, key: int, default: int = 0) -> int:
        value = self.params.get(key, default)
        if isinstance(value, list):
            raise InputFileError(self.name, f"param {key} of {self.type} is an array, not a number")
        return int(value)

    def get_float(self, key: int, default: float = 0.0) -> float:
        value = self.params.get(key, default)
        if isinstance(value, list):
            raise InputFileError(self.name, f"param {key} of {self.type} is an array, not a number")
        return float(value)

    def get_array(self, key: int) -> list[float]:
        value = self.params.get(key, [])
        return [float(v) for v in value] if isinstance(value, list) else [float(value)]


@dataclass
class OnnxParts:
    """The graph being built: nodes, initializers, and blob aliases (Split, Noop)."""

    helper: Any
    numpy_helper: Any
    nodes: list[Any] = field(default_factory=list)
    initializers: list[Any] = field(default_factory=list)
    alias: dict[str, str] = field(default_factory=dict)

    def blob(self, name: str) -> str:
        return self.alias.get(name, name)

    def const(self, name: str, value: np.ndarray | np.generic) -> str:
        self.initializers.append(self.numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], outputs: list[str], name: str, **attrs: Any) -> None:
        self.nodes.append(self.helper.make_node(op, inputs, outputs, name=name, **attrs))


Build = Callable[[Layer, OnnxParts], None]


@dataclass(frozen=True)
class LayerKind:
    build: Build
    weights: Callable[[Layer], WeightBlobs]


LAYERS: dict[str, LayerKind] = {}


def _no_weights(layer: Layer) -> WeightBlobs:
    return []


def register_layer(kind: str, weights: Callable[[Layer], WeightBlobs] = _no_weights) -> Callable[[Build], Build]:
    def wrap(fn: Build) -> Build:
        if kind in LAYERS:
            raise ValueError(f"ncnn layer {kind} is registered twice")
        LAYERS[kind] = LayerKind(fn, weights)
        return fn

    return wrap


def kind_of(layer: Layer) -> LayerKind:
    if layer.type not in LAYERS:
        raise UnsupportedOpError(layer.type, "ncnn reader", f"layer '{layer.name}'; supported: "
                                 + ", ".join(sorted(LAYERS)))
    return LAYERS[layer.type]


def weight_blobs(layer: Layer) -> WeightBlobs:
    return kind_of(layer).weights(layer)


def _unsupported(layer: Layer, what: str) -> UnsupportedOpError:
    return UnsupportedOpError(f"{layer.type} ({what})", "ncnn reader", f"layer '{layer.name}'")


@register_layer("Input")
def _input(layer: Layer, g: OnnxParts) -> None:
    pass  # the graph input itself (its channels: input_channels)


@register_layer("Split")
@register_layer("Noop")
@register_layer("Dropout")
def _alias(layer: Layer, g: OnnxParts) -> None:
    if layer.type == "Dropout" and layer.get_float(0, 1.0) != 1.0:
        raise _unsupported(layer, "scale != 1")
    for top in layer.tops:
        g.alias[top] = g.blob(layer.bottoms[0])


def _conv_weights(layer: Layer) -> WeightBlobs:
    if layer.get_int(8):
        raise _unsupported(layer, "int8 scales")
    blobs = [("weight", layer.get_int(6), True)]
    return blobs + ([("bias", layer.get_int(0), False)] if layer.get_int(5) else [])


def activation(layer: Layer, g: OnnxParts, x: str, out: str) -> None:
    """The activation ncnn fuses into a layer (param 9, its params in array 10)."""
    kind, args = layer.get_int(9), layer.get_array(10)
    name = f"{layer.name}_act"
    if kind == 1:
        g.node("Relu", [x], [out], name)
    elif kind == 2:
        g.node("LeakyRelu", [x], [out], name, alpha=args[0] if args else 0.0)
    elif kind == 3:
        low = g.const(f"{name}_min", np.float32(args[0]))
        high = g.const(f"{name}_max", np.float32(args[1]))
        g.node("Clip", [x, low, high], [out], name)
    elif kind == 4:
        g.node("Sigmoid", [x], [out], name)
    else:
        raise _unsupported(layer, f"activation_type {kind}")


@register_layer("Convolution", _conv_weights)
@register_layer("ConvolutionDepthWise", _conv_weights)
def _convolution(layer: Layer, g: OnnxParts) -> None:
    out_c, kw = layer.get_int(0), layer.get_int(1)
    kh = layer.get_int(11, kw)
    dw = layer.get_int(2, 1)
    sw = layer.get_int(3, 1)
    pl = layer.get_int(4)
    pt, pr = layer.get_int(14, pl), layer.get_int(15, pl)
    pb = layer.get_int(16, pt)
    group = layer.get_int(7, 1) if layer.type == "ConvolutionDepthWise" else 1
    if layer.get_float(18) != 0.0:
        raise _unsupported(layer, "pad_value != 0")
    weight = layer.weights["weight"]
    per_out = weight.size // max(out_c, 1)
    in_per_group = per_out // (kw * kh) if kw * kh else 0
    if in_per_group * kw * kh * out_c != weight.size or in_per_group == 0:
        raise InputFileError(layer.name, f"{layer.type}: {weight.size} weights do not make "
                                         f"{out_c} outputs of {kh}x{kw} kernels")
    inputs = [g.blob(layer.bottoms[0]),
              g.const(f"{layer.name}_w", weight.reshape(out_c, in_per_group, kh, kw))]
    if "bias" in layer.weights:
        inputs.append(g.const(f"{layer.name}_b", layer.weights["bias"]))
    attrs: dict[str, Any] = {"kernel_shape": [kh, kw], "dilations": [layer.get_int(12, dw), dw],
                             "strides": [layer.get_int(13, sw), sw], "group": group}
    if pl in (-233, -234):
        attrs["auto_pad"] = "SAME_UPPER" if pl == -233 else "SAME_LOWER"
    elif min(pl, pt, pr, pb) < 0:
        raise _unsupported(layer, f"padding {pl}")
    else:
        attrs["pads"] = [pt, pl, pb, pr]
    fused = layer.get_int(9) != 0
    conv_out = f"{layer.tops[0]}_pre" if fused else layer.tops[0]
    g.node("Conv", inputs, [conv_out], layer.name, **attrs)
    if fused:
        activation(layer, g, conv_out, layer.tops[0])


def input_channels(layers: list[Layer], blob: str) -> int:
    """The channels of an input blob: its Input layer's param 2, else the first convolution
    that reads it (through Split/Noop) says it by its weight count (0 when neither does)."""
    same = {blob}
    for layer in layers:
        if layer.type == "Input" and blob in layer.tops and layer.get_int(2) > 0:
            return layer.get_int(2)
        if layer.type in ("Split", "Noop") and layer.bottoms[0] in same:
            same.update(layer.tops)
        elif layer.type in ("Convolution", "ConvolutionDepthWise") and layer.bottoms[0] in same:
            out_c, kw = layer.get_int(0), layer.get_int(1)
            kh = layer.get_int(11, kw)
            group = layer.get_int(7, 1) if layer.type == "ConvolutionDepthWise" else 1
            return layer.get_int(6) // max(out_c * kw * kh, 1) * group
    return 0


@register_layer("ReLU")
def _relu(layer: Layer, g: OnnxParts) -> None:
    slope = layer.get_float(0)
    x = g.blob(layer.bottoms[0])
    if slope:
        g.node("LeakyRelu", [x], layer.tops, layer.name, alpha=slope)
    else:
        g.node("Relu", [x], layer.tops, layer.name)


@register_layer("Sigmoid")
def _sigmoid(layer: Layer, g: OnnxParts) -> None:
    g.node("Sigmoid", [g.blob(layer.bottoms[0])], layer.tops, layer.name)


@register_layer("Clip")
def _clip(layer: Layer, g: OnnxParts) -> None:
    low = g.const(f"{layer.name}_min", np.float32(layer.get_float(0)))
    high = g.const(f"{layer.name}_max", np.float32(layer.get_float(1)))
    g.node("Clip", [g.blob(layer.bottoms[0]), low, high], layer.tops, layer.name)


@register_layer("PReLU", lambda layer: [("slope", max(layer.get_int(0), 1), False)])
def _prelu(layer: Layer, g: OnnxParts) -> None:
    slope = layer.weights["slope"]
    shaped = slope.reshape(-1, 1, 1) if slope.size > 1 else slope.reshape(1)
    g.node("PRelu", [g.blob(layer.bottoms[0]), g.const(f"{layer.name}_slope", shaped)],
           layer.tops, layer.name)


INTERP_MODES = {1: ("nearest", "asymmetric"), 2: ("linear", "half_pixel"), 3: ("cubic", "half_pixel")}


@register_layer("Interp")
def _interp(layer: Layer, g: OnnxParts) -> None:
    kind = layer.get_int(0)
    if kind not in INTERP_MODES:
        raise _unsupported(layer, f"resize_type {kind}")
    if layer.get_int(5):
        raise _unsupported(layer, "dynamic target size")
    mode, transform = INTERP_MODES[kind]
    if layer.get_int(6) and kind != 1:
        transform = "align_corners"
    attrs: dict[str, Any] = {"mode": mode, "coordinate_transformation_mode": transform}
    if kind == 1:
        attrs["nearest_mode"] = "floor"
    if kind == 3:
        attrs["cubic_coeff_a"] = -0.75
    x = g.blob(layer.bottoms[0])
    out_h, out_w = layer.get_int(3), layer.get_int(4)
    if out_h and out_w:  # fixed output size: N and C follow the input's
        shape = f"{layer.name}_shape"
        g.node("Shape", [x], [shape], f"{shape}_op", start=0, end=2)
        size = g.const(f"{layer.name}_hw", np.asarray([out_h, out_w], np.int64))
        g.node("Concat", [shape, size], [f"{layer.name}_sizes"], f"{layer.name}_sizes_op", axis=0)
        g.node("Resize", [x, "", "", f"{layer.name}_sizes"], layer.tops, layer.name, **attrs)
        return
    scales = np.asarray([1.0, 1.0, layer.get_float(1, 1.0), layer.get_float(2, 1.0)], np.float32)
    g.node("Resize", [x, "", g.const(f"{layer.name}_scales", scales)], layer.tops, layer.name, **attrs)


@register_layer("PixelShuffle")
def _pixel_shuffle(layer: Layer, g: OnnxParts) -> None:
    mode = "DCR" if layer.get_int(1) else "CRD"  # ncnn mode 0 is PyTorch's order (CRD)
    g.node("DepthToSpace", [g.blob(layer.bottoms[0])], layer.tops, layer.name,
           blocksize=layer.get_int(0, 1), mode=mode)


BINARY_OPS = {0: "Add", 1: "Sub", 2: "Mul", 3: "Div", 4: "Max", 5: "Min", 6: "Pow", 7: "Sub", 8: "Div"}


@register_layer("BinaryOp")
def _binary(layer: Layer, g: OnnxParts) -> None:
    kind = layer.get_int(0)
    if kind not in BINARY_OPS:
        raise _unsupported(layer, f"op_type {kind}")
    a = g.blob(layer.bottoms[0])
    if layer.get_int(1):  # with_scalar: b is param 2
        b = g.const(f"{layer.name}_b", np.float32(layer.get_float(2)))
    elif len(layer.bottoms) == 2:
        b = g.blob(layer.bottoms[1])
    else:
        raise InputFileError(layer.name, "BinaryOp needs two inputs or with_scalar=1")
    pair = [b, a] if kind in (7, 8) else [a, b]  # rsub, rdiv
    g.node(BINARY_OPS[kind], pair, layer.tops, layer.name)


@register_layer("Eltwise")
def _eltwise(layer: Layer, g: OnnxParts) -> None:
    kind, coeffs = layer.get_int(0, 1), layer.get_array(1)
    xs = [g.blob(b) for b in layer.bottoms]
    if kind == 1 and coeffs and any(c != 1.0 for c in coeffs):
        if len(coeffs) != len(xs):
            raise InputFileError(layer.name, f"Eltwise has {len(xs)} inputs and {len(coeffs)} coefficients")
        scaled = []
        for i, (x, c) in enumerate(zip(xs, coeffs, strict=True)):
            if c == 1.0:
                scaled.append(x)
                continue
            scaled.append(f"{layer.name}_x{i}")
            g.node("Mul", [x, g.const(f"{layer.name}_c{i}", np.float32(c))], [scaled[-1]], f"{layer.name}_mul{i}")
        xs = scaled
    ops = {0: "Mul", 1: "Sum", 2: "Max"}
    if kind not in ops:
        raise _unsupported(layer, f"op_type {kind}")
    if kind == 0 and len(xs) > 2:
        raise _unsupported(layer, "product of more than two inputs")
    g.node(ops[kind], xs, layer.tops, layer.name)


@register_layer("Concat")
def _concat(layer: Layer, g: OnnxParts) -> None:
    axis = layer.get_int(0)
    g.node("Concat", [g.blob(b) for b in layer.bottoms], layer.tops, layer.name,
           axis=axis + 1 if axis >= 0 else axis)
