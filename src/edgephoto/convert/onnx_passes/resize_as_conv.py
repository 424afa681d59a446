"""Resizes by a fixed factor as exact convolutions: TFLite has no bicubic resize op (onnx2tf's
ResizeBicubic does not convert), and Core ML cannot size a resize whose output size onnx2tf
computes at run time.

Nearest by an integer factor r (asymmetric, floor) repeats each pixel r x r times: a 1x1 Conv
of ones (C -> C*r*r) and DepthToSpace(r), exact.

With half-pixel coordinates, output pixel p*k + j samples input q*k + off_j, off_j =
(j + 0.5) * q / p - 0.5, with the 4 cubic taps (a = -0.75) around it and indices clamped at the
border. So per axis the resize is a stride-q convolution with p output phases, and in 2-D one
Conv (p*p phases per channel) over an edge-padded input followed by DepthToSpace(p).
The rewrite is exact when every input side is a multiple of q (the Real-ESRGAN x2/x3 tails
resize a x4 output by 1/2 and 3/4).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np

MAX_TERMS = 8  # p and q up to 8: larger factors stay a Resize


def cubic_weights(t: float, a: float = -0.75) -> np.ndarray:
    """The 4 taps at offsets -1, 0, 1, 2 for a sample at fraction t past a pixel."""
    def k(x: float) -> float:
        x = abs(x)
        if x <= 1:
            return (a + 2) * x**3 - (a + 3) * x**2 + 1
        return a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a if x < 2 else 0.0

    return np.asarray([k(t + 1), k(t), k(1 - t), k(2 - t)], np.float64)


def phase_filters(p: int, q: int, a: float = -0.75) -> tuple[np.ndarray, int, int]:
    """(p, K) per-phase 1-D filters, the left pad and the right pad for a p/q resize."""
    offsets = [(j + 0.5) * q / p - 0.5 for j in range(p)]
    floors = [math.floor(o) for o in offsets]
    start, stop = min(floors) - 1, max(floors) + 2  # inclusive tap range relative to q*k
    filters = np.zeros((p, stop - start + 1))
    for j, (o, f) in enumerate(zip(offsets, floors, strict=True)):
        filters[j, f - 1 - start:f + 3 - start] = cubic_weights(o - f, a)
    return filters, max(-start, 0), max(stop - (q - 1), 0)


def rational(scale: float) -> tuple[int, int] | None:
    frac = Fraction(scale).limit_denominator(MAX_TERMS)
    if abs(float(frac) - scale) > 1e-6 or frac.numerator > MAX_TERMS:
        return None
    return frac.numerator, frac.denominator


def _phase_major(kernels: np.ndarray, c: int) -> np.ndarray:
    """Conv weights (phases*C, C, K, K): output channel phase*C + ch applies kernel `phase` to
    input channel ch only. Phase-major channels are DepthToSpace's DCR order, TensorFlow's own
    depth_to_space (CRD becomes a rank-6 reshape that Core ML refuses)."""
    phases, kh, kw = kernels.shape
    weight = np.zeros((phases * c, c, kh, kw), np.float32)
    for ch in range(c):
        weight[ch::c, ch] = kernels
    return weight


def _nearest_repeat(attrs: dict[str, Any], scales: np.ndarray | None) -> int:
    """r for a nearest Resize by an integer r on H and W that repeats pixels, else 0."""
    if scales is None or scales.shape != (4,) or scales[0] != 1 or scales[1] != 1 or scales[2] != scales[3]:
        return 0
    r = float(scales[2])
    exact = attrs.get("mode", b"nearest") == b"nearest" and r == int(r) and 1 < r <= MAX_TERMS
    pixel_copies = (attrs.get("coordinate_transformation_mode") == b"asymmetric"
                    and attrs.get("nearest_mode") == b"floor")
    return int(r) if exact and pixel_copies else 0


def rewrite(model: Any, channels: dict[str, int]) -> int:
    """Replace every nearest (integer r) and cubic half-pixel (p/q) Resize with constant equal H/W
    scales by Conv + DepthToSpace (cubic: Pad(edge) first). `channels` gives each Resize input's
    channel count. Returns how many were rewritten."""
    from onnx import helper, numpy_helper

    consts = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    nodes, done = [], 0
    for node in model.graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        scales = consts.get(node.input[2]) if node.op_type == "Resize" and len(node.input) > 2 else None
        repeat = _nearest_repeat(attrs, scales) if node.input[0] in channels else None
        if repeat:
            c, name = channels[node.input[0]], node.name or node.output[0]
            ones = np.ones((repeat * repeat, 1, 1), np.float32)
            model.graph.initializer.append(numpy_helper.from_array(_phase_major(ones, c), f"{name}_ones"))
            nodes += [
                helper.make_node("Conv", [node.input[0], f"{name}_ones"], [f"{name}_copies"], name=f"{name}_conv",
                                 kernel_shape=[1, 1]),
                helper.make_node("DepthToSpace", [f"{name}_copies"], list(node.output), name=f"{name}_d2s",
                                 blocksize=repeat, mode="DCR"),
            ]
            done += 1
            continue
        ok = (scales is not None and scales.shape == (4,) and scales[0] == scales[1] == 1
              and scales[2] == scales[3] and attrs.get("mode") == b"cubic"
              and attrs.get("coordinate_transformation_mode") == b"half_pixel"
              and abs(float(attrs.get("cubic_coeff_a", -0.75)) + 0.75) < 1e-9
              and not attrs.get("exclude_outside", 0) and node.input[0] in channels)
        pq = rational(float(scales[2])) if ok and scales is not None else None
        if pq is None:
            nodes.append(node)
            continue
        p, q = pq
        c, x, name = channels[node.input[0]], node.input[0], node.name or node.output[0]
        filters, left, right = phase_filters(p, q, float(attrs.get("cubic_coeff_a", -0.75)))
        kernel = np.einsum("ik,jl->ijkl", filters, filters).reshape(p * p, filters.shape[1], filters.shape[1])
        weight = _phase_major(kernel.astype(np.float32), c)
        model.graph.initializer.extend([
            numpy_helper.from_array(np.asarray([0, 0, left, left, 0, 0, right, right], np.int64), f"{name}_pads"),
            numpy_helper.from_array(weight, f"{name}_phases"),
        ])
        nodes += [
            helper.make_node("Pad", [x, f"{name}_pads"], [f"{name}_padded"], name=f"{name}_pad", mode="edge"),
            helper.make_node("Conv", [f"{name}_padded", f"{name}_phases"],
                             [f"{name}_phased"] if p > 1 else list(node.output), name=f"{name}_conv",
                             strides=[q, q], kernel_shape=list(kernel.shape[1:])),
        ]
        if p > 1:  # one phase (a 1/q downscale) needs no DepthToSpace; onnx2tf refuses block size 1
            nodes.append(helper.make_node("DepthToSpace", [f"{name}_phased"], list(node.output),
                                          name=f"{name}_d2s", blocksize=p, mode="DCR"))
        done += 1
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    used = {name for n in nodes for name in n.input}
    kept = [init for init in model.graph.initializer if init.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    return done
