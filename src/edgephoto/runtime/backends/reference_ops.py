"""ONNX ops in plain numpy for the reference backend: exact semantics over speed.

Each op is `f(inputs, attrs) -> list of outputs`, registered by ONNX op type. Convolutions and
interpolation accumulate in float64 and cast back, so results match an engine's float32 output
to ~1e-6. Missing optional inputs arrive as None.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

Op = Callable[[list[Any], dict[str, Any]], list[np.ndarray]]
OPS: dict[str, Op] = {}


def op(*names: str) -> Callable[[Op], Op]:
    def wrap(fn: Op) -> Op:
        for name in names:
            if name in OPS:
                raise ValueError(f"reference op '{name}' is registered twice")
            OPS[name] = fn
        return fn

    return wrap


def _unary(name: str, fn: Callable[[np.ndarray], np.ndarray]) -> None:
    op(name)(lambda x, a: [fn(x[0]).astype(x[0].dtype, copy=False)])


def _binary(name: str, fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> None:
    op(name)(lambda x, a: [np.asarray(fn(x[0], x[1])).astype(np.result_type(x[0], x[1]), copy=False)])


_UNARY: dict[str, Callable[[Any], Any]] = {
    "Relu": lambda x: np.maximum(x, 0),
    "Sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x.astype(np.float64))),
    "Tanh": np.tanh, "Exp": np.exp, "Neg": np.negative, "Abs": np.abs, "Sqrt": np.sqrt,
    "Floor": np.floor, "Ceil": np.ceil, "Reciprocal": np.reciprocal, "Identity": np.array,
}
_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Max": np.maximum,
    "Min": np.minimum, "Pow": np.power,
}
for _name, _fn in _UNARY.items():
    _unary(_name, _fn)
for _name, _fn2 in _BINARY.items():
    _binary(_name, _fn2)


@op("Div")
def _div(x: list[Any], a: dict[str, Any]) -> list[np.ndarray]:
    if np.issubdtype(x[0].dtype, np.integer):
        return [np.trunc(x[0] / x[1]).astype(x[0].dtype)]
    return [np.divide(x[0], x[1])]


@op("LeakyRelu")
def _leaky(x: list[Any], a: dict[str, Any]) -> list[np.ndarray]:
    return [np.where(x[0] >= 0, x[0], x[0] * np.float32(a.get("alpha", 0.01))).astype(x[0].dtype)]


@op("PRelu")
def _prelu(x: list[Any], a: dict[str, Any]) -> list[np.ndarray]:
    return [np.where(x[0] >= 0, x[0], x[0] * x[1]).astype(x[0].dtype)]


@op("HardSigmoid")
def _hard_sigmoid(x: list[Any], a: dict[str, Any]) -> list[np.ndarray]:
    alpha, beta = a.get("alpha", 0.2), a.get("beta", 0.5)
    return [np.clip(x[0].astype(np.float64) * alpha + beta, 0, 1).astype(x[0].dtype)]


@op("Clip")
def _clip(x: list[Any], a: dict[str, Any]) -> list[np.ndarray]:
    low = x[1] if len(x) > 1 and x[1] is not None else a.get("min")
    high = x[2] if len(x) > 2 and x[2] is not None else a.get("max")
    out = x[0]
    if low is not None:
        out = np.maximum(out, np.asarray(low, dtype=out.dtype))
    if high is not None:
        out = np.minimum(out, np.asarray(high, dtype=out.dtype))
    return [out]


@op("Softmax")
def _softmax(x: list[Any], a: dict[str, Any]) -> list[np.ndarray]:
    v = x[0].astype(np.float64)
    e = np.exp(v - v.max(axis=a.get("axis", -1), keepdims=True))
    return [(e / e.sum(axis=a.get("axis", -1), keepdims=True)).astype(x[0].dtype)]


@op("Concat")
def _concat(x: list[Any], a: dict[str, Any]) -> list[np.ndarray]:
    return [np.concatenate([v for v in x if v is not None], axis=a["axis"])]


@op("Cast")
def _cast(x: list[Any], a: dict[str, Any]) -> list[np.ndarray]:
    return [x[0].astype(a["to"])]  # the loader turns the TensorProto enum into a numpy dtype


@op("Constant")
def _constant(x: list[Any], a: dict[str, Any]) -> list[np.ndarray]:
    return [np.asarray(a["value"])]


@op("Shape")
def _shape(x: list[Any], a: dict[str, Any]) -> list[np.ndarray]:
    return [np.array(x[0].shape[a.get("start", 0):a.get("end")], dtype=np.int64)]


@op("Gather")
def _gather(x: list[Any], a: dict[str, Any]) -> list[np.ndarray]:
    return [np.take(x[0], x[1], axis=a.get("axis", 0))]


@op("Reshape")
def _reshape(x: list[Any], a: dict[str, Any]) -> list[np.ndarray]:
    shape = [int(d) for d in x[1]]
    if not a.get("allowzero", 0):
        shape = [x[0].shape[i] if d == 0 else d for i, d in enumerate(shape)]
    return [x[0].reshape(shape)]


@op("Flatten")
def _flatten(x: list[Any], a: dict[str, Any]) -> list[np.ndarray]:
    axis = a.get("axis", 1) % max(x[0].ndim, 1)
    return [x[0].reshape(int(np.prod(x[0].shape[:axis])), -1)]


@op("Transpose")
def _transpose(x: list[Any], a: dict[str, Any]) -> list[np.ndarray]:
    return [np.transpose(x[0], a.get("perm"))]


def _axes(x: list[Any], a: dict[str, Any]) -> list[int] | None:
    axes = x[1] if len(x) > 1 and x[1] is not None else a.get("axes")
    return None if axes is None else [int(v) for v in np.atleast_1d(axes)]


@op("Squeeze")
def _squeeze(x: list[Any], a: dict[str, Any]) -> list[np.ndarray]:
    axes = _axes(x, a)
    return [np.squeeze(x[0], axis=None if axes is None else tuple(axes))]


@op("Unsqueeze")
def _unsqueeze(x: list[Any], a: dict[str, Any]) -> list[np.ndarray]:
    return [np.expand_dims(x[0], axis=tuple(_axes(x, a) or ()))]


@op("Slice")
def _slice(x: list[Any], a: dict[str, Any]) -> list[np.ndarray]:
    data, starts, ends = x[0], x[1], x[2]
    axes = x[3] if len(x) > 3 and x[3] is not None else range(len(starts))
    steps = x[4] if len(x) > 4 and x[4] is not None else [1] * len(starts)
    index = [slice(None)] * data.ndim
    for start, end, axis, step in zip(starts, ends, axes, steps, strict=True):
        index[int(axis)] = slice(int(start), int(end), int(step))
    return [data[tuple(index)]]


@op("Pad")
def _pad(x: list[Any], a: dict[str, Any]) -> list[np.ndarray]:
    data = x[0]
    pads = [int(p) for p in (x[1] if len(x) > 1 else a["pads"])]
    value = x[2] if len(x) > 2 and x[2] is not None else a.get("value", 0.0)
    rank = data.ndim
    axes = [int(v) % rank for v in x[3]] if len(x) > 3 and x[3] is not None else range(rank)
    width = [(0, 0)] * rank
    for i, axis in enumerate(axes):
        width[axis] = (pads[i], pads[i + len(axes)])
    mode = a.get("mode", "constant")
    if mode == "constant":
        return [np.pad(data, width, constant_values=np.asarray(value).item())]
    if mode not in ("reflect", "edge", "wrap"):
        raise NotImplementedError(f"Pad mode={mode}")
    return [np.pad(data, width, mode=mode)]


@op("MatMul")
def _matmul(x: list[Any], a: dict[str, Any]) -> list[np.ndarray]:
    return [np.matmul(x[0].astype(np.float64), x[1]).astype(x[0].dtype)]


@op("Gemm")
def _gemm(x: list[Any], a: dict[str, Any]) -> list[np.ndarray]:
    left = x[0].T if a.get("transA", 0) else x[0]
    right = x[1].T if a.get("transB", 0) else x[1]
    out = a.get("alpha", 1.0) * (left.astype(np.float64) @ right)
    if len(x) > 2 and x[2] is not None:
        out = out + a.get("beta", 1.0) * x[2]
    return [out.astype(x[0].dtype)]


@op("BatchNormalization")
def _batchnorm(x: list[Any], a: dict[str, Any]) -> list[np.ndarray]:
    data, scale, bias, mean, var = (v.astype(np.float64) for v in x[:5])
    shape = (1, -1) + (1,) * (data.ndim - 2)
    inv = scale / np.sqrt(var + a.get("epsilon", 1e-5))
    out = (data - mean.reshape(shape)) * inv.reshape(shape) + bias.reshape(shape)
    return [out.astype(x[0].dtype)]


@op("GlobalAveragePool")
def _gap(x: list[Any], a: dict[str, Any]) -> list[np.ndarray]:
    axes = tuple(range(2, x[0].ndim))
    return [x[0].astype(np.float64).mean(axis=axes, keepdims=True).astype(x[0].dtype)]


def _pads(a: dict[str, Any], spatial: tuple[int, ...], kernel: list[int], strides: list[int],
          dilations: list[int]) -> list[int]:
    """ONNX pads [b1, b2, ..., e1, e2, ...], resolving auto_pad."""
    n = len(spatial)
    mode = a.get("auto_pad", "NOTSET")
    if isinstance(mode, bytes):
        mode = mode.decode()
    if mode in ("SAME_UPPER", "SAME_LOWER"):
        begin, end = [], []
        for size, k, s, d in zip(spatial, kernel, strides, dilations, strict=True):
            total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
            small, big = total // 2, total - total // 2
            begin.append(big if mode == "SAME_LOWER" else small)
            end.append(small if mode == "SAME_LOWER" else big)
        return begin + end
    if mode == "VALID":
        return [0] * (2 * n)
    return list(a.get("pads", [0] * (2 * n)))


def _windows(data: np.ndarray, kernel: list[int], strides: list[int], dilations: list[int],
             pads: list[int], fill: float) -> np.ndarray:
    """(N, C, *out_spatial, *kernel) view of the padded input."""
    n = len(kernel)
    width = [(0, 0), (0, 0)] + [(pads[i], pads[i + n]) for i in range(n)]
    padded = np.pad(data, width, constant_values=fill)
    span = [(k - 1) * d + 1 for k, d in zip(kernel, dilations, strict=True)]
    view = sliding_window_view(padded, span, axis=tuple(range(2, 2 + n)))
    index = (slice(None), slice(None), *(slice(None, None, s) for s in strides),
             *(slice(None, None, d) for d in dilations))
    return view[index]


@op("Conv")
def _conv(x: list[Any], a: dict[str, Any]) -> list[np.ndarray]:
    data, weight = x[0], x[1]
    n = data.ndim - 2
    kernel = list(a.get("kernel_shape", weight.shape[2:]))
    strides, dilations = list(a.get("strides", [1] * n)), list(a.get("dilations", [1] * n))
    pads = _pads(a, data.shape[2:], kernel, strides, dilations)
    win = _windows(data.astype(np.float64), kernel, strides, dilations, pads, 0.0)
    group = a.get("group", 1)
    batch, channels = data.shape[:2]
    out_spatial = win.shape[2:2 + n]
    win = win.reshape(batch, group, channels // group, *out_spatial, *kernel)
    w = weight.astype(np.float64).reshape(group, weight.shape[0] // group, *weight.shape[1:])
    letters = "hwdxyz"[:n], "ijklmn"[:n]
    spec = f"ngc{letters[0]}{letters[1]},gmc{letters[1]}->ngm{letters[0]}"
    out = np.einsum(spec, win, w, optimize=True).reshape(batch, weight.shape[0], *out_spatial)
    if len(x) > 2 and x[2] is not None:
        out = out + x[2].astype(np.float64).reshape(1, -1, *([1] * n))
    return [out.astype(data.dtype)]


@op("MaxPool", "AveragePool")
def _pool(x: list[Any], a: dict[str, Any]) -> list[np.ndarray]:
    data = x[0]
    kernel = list(a["kernel_shape"])
    n = len(kernel)
    if a.get("ceil_mode", 0):
        raise NotImplementedError("ceil_mode=1")
    strides, dilations = list(a.get("strides", [1] * n)), list(a.get("dilations", [1] * n))
    pads = _pads(a, data.shape[2:], kernel, strides, dilations)
    axes = tuple(range(-n, 0))
    if a["_op"] == "MaxPool":
        return [_windows(data, kernel, strides, dilations, pads, -np.inf).max(axis=axes)]
    total = _windows(data.astype(np.float64), kernel, strides, dilations, pads, 0.0).sum(axis=axes)
    if a.get("count_include_pad", 0):
        count = float(np.prod(kernel))
    else:
        ones = np.ones((1, 1, *data.shape[2:]))
        count = _windows(ones, kernel, strides, dilations, pads, 0.0).sum(axis=axes)
    return [(total / count).astype(data.dtype)]


@op("DepthToSpace")
def _depth_to_space(x: list[Any], a: dict[str, Any]) -> list[np.ndarray]:
    data, b = x[0], a["blocksize"]
    n, c, h, w = data.shape
    if a.get("mode", "DCR") == "CRD":
        out = data.reshape(n, c // (b * b), b, b, h, w).transpose(0, 1, 4, 2, 5, 3)
    else:
        out = data.reshape(n, b, b, c // (b * b), h, w).transpose(0, 3, 4, 1, 5, 2)
    return [out.reshape(n, c // (b * b), h * b, w * b)]


@op("SpaceToDepth")
def _space_to_depth(x: list[Any], a: dict[str, Any]) -> list[np.ndarray]:
    data, b = x[0], a["blocksize"]
    n, c, h, w = data.shape
    out = data.reshape(n, c, h // b, b, w // b, b).transpose(0, 3, 5, 1, 2, 4)
    return [out.reshape(n, c * b * b, h // b, w // b)]


def _source_coords(mode: str, out: int, size: int, scale: float) -> np.ndarray:
    """ONNX Resize: output index -> input coordinate along one axis."""
    i = np.arange(out, dtype=np.float64)
    if mode == "half_pixel":
        return (i + 0.5) / scale - 0.5
    if mode == "pytorch_half_pixel":
        return (i + 0.5) / scale - 0.5 if out > 1 else np.zeros(out)
    if mode == "align_corners":
        return i * (size - 1) / (out - 1) if out > 1 else np.zeros(out)
    if mode == "asymmetric":
        return i / scale
    if mode == "tf_half_pixel_for_nn":
        return (i + 0.5) / scale
    if mode == "half_pixel_symmetric":
        adjustment = out / (scale * size)
        return size / 2 * (1 - adjustment) + (i + 0.5) / scale - 0.5
    raise NotImplementedError(f"coordinate_transformation_mode={mode}")


_ROUND: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "round_prefer_floor": lambda v: np.ceil(v - 0.5),
    "round_prefer_ceil": lambda v: np.floor(v + 0.5),
    "floor": np.floor,
    "ceil": np.ceil,
}


@op("Resize", "Upsample")
def _resize(x: list[Any], a: dict[str, Any]) -> list[np.ndarray]:
    data = x[0]
    if a.get("antialias", 0) or a.get("axes") is not None:
        raise NotImplementedError("antialias/axes")
    scales = x[2] if len(x) > 2 and x[2] is not None and x[2].size else None
    sizes = x[3] if len(x) > 3 and x[3] is not None and x[3].size else None
    if len(x) == 2:  # opset 10 Resize / Upsample: (X, scales)
        scales = x[1]
    mode = a.get("mode", "nearest")
    transform = a.get("coordinate_transformation_mode", "half_pixel")
    if a["_op"] == "Upsample" or len(x) == 2:
        transform = "asymmetric"  # Upsample and opset-10 Resize used asymmetric coordinates
    out = data.astype(np.float64) if mode == "linear" else data
    for axis, size in enumerate(data.shape):
        if sizes is not None:
            new, scale = int(sizes[axis]), int(sizes[axis]) / size
        elif scales is not None:
            scale = float(scales[axis])
            new = int(math.floor(size * scale))
        else:
            raise NotImplementedError("Resize without scales or sizes")
        if new == size and scale == 1.0:
            continue
        coords = _source_coords(transform, new, size, scale)
        if mode == "nearest":
            rounding = _ROUND[a.get("nearest_mode", "round_prefer_floor")]
            index = np.clip(rounding(coords).astype(np.int64), 0, size - 1)
            out = np.take(out, index, axis=axis)
        elif mode == "linear":
            low = np.floor(coords)
            frac = (coords - low).reshape([-1 if d == axis else 1 for d in range(data.ndim)])
            lo = np.clip(low.astype(np.int64), 0, size - 1)
            hi = np.clip(low.astype(np.int64) + 1, 0, size - 1)
            out = np.take(out, lo, axis=axis) * (1 - frac) + np.take(out, hi, axis=axis) * frac
        else:
            raise NotImplementedError(f"mode={mode}")
    return [out.astype(data.dtype)]
