"""PReLU written as elementwise ops, found in any graph (ONNX or TF GraphDef) through a small view.

TF1 models such as FSRCNN spell PReLU as `Relu(x) + alpha * (x - Abs(x)) * 0.5`, and engines
then run it as five ops (OpenCV spends 40 % of FSRCNN's time there). This module knows no
framework: `match_prelu` walks a `GraphView` from an Add/Sub and returns the equivalent slope.

Accepted: `Relu(x) + N`, `N + Relu(x)` and `Relu(x) - N`, where N is a chain of Mul-by-constant
and Neg over a base that is a multiple of x for negative x and zero for the rest:
`x - Abs(x)` (2x), `Abs(x) - x` (-2x) or `Relu(Neg(x))` (-x). The match is refused unless the
fused `PRelu(x, slope)` gives the same floats: k·x is exact for k in ±1, ±2, and a chain with at
most one constant that is not a power of two rounds once, as `x * slope` does (results in the
subnormal range aside). So `alpha * (x - |x|) * 0.5` fuses, `alpha * (x - |x|) * 0.3` does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

ADD_OPS = ("Add", "AddV2")


class GraphView(Protocol):
    """What the matcher needs to know about a graph; tensors are plain strings."""

    def producer(self, tensor: str) -> tuple[str, list[str]] | None:
        """(op type, input tensors) of the node making `tensor`; None for inputs/constants."""

    def constant(self, tensor: str) -> np.ndarray | None:
        """The value of a constant tensor, else None."""

    def uses(self, tensor: str) -> int:
        """How many node inputs (and graph outputs) read `tensor`."""


@dataclass(frozen=True)
class PReluMatch:
    """`output` equals PRelu(x, slope); `removed` are the tensors only the pattern used."""

    output: str
    x: str
    slope: np.ndarray
    relu: str
    removed: tuple[str, ...]


def is_power_of_two(value: np.ndarray) -> bool:
    """Every element is 0 or ±2^n: multiplying by it never rounds (outside subnormals)."""
    mantissa = np.abs(np.frexp(np.asarray(value, np.float64))[0])
    return bool(np.all((mantissa == 0.5) | (mantissa == 0.0)))


def _base(view: GraphView, tensor: str, x: str) -> tuple[float, list[str]] | None:
    """(k, interior tensors) when `tensor` is k·x for negative x and zero otherwise."""
    made = view.producer(tensor)
    if made is None:
        return None
    op, inputs = made
    if op == "Sub" and len(inputs) == 2:
        for k, (plain, absolute) in ((2.0, inputs), (-2.0, inputs[::-1])):
            inner = view.producer(absolute)
            if plain == x and inner is not None and inner[0] == "Abs" and inner[1] == [x]:
                return k, [tensor, absolute]
    if op == "Relu" and len(inputs) == 1:
        inner = view.producer(inputs[0])
        if inner is not None and inner[0] == "Neg" and inner[1] == [x]:
            return -1.0, [tensor, inputs[0]]
    return None


def _negative_part(view: GraphView, tensor: str, x: str) -> tuple[float, list[np.ndarray], list[str]] | None:
    """(sign, constant factors, interior tensors) of N = sign * prod(factors) * base(x)."""
    sign = 1.0
    factors: list[np.ndarray] = []
    interior: list[str] = []
    for _ in range(16):  # a chain longer than this is not a PReLU anyone wrote
        base = _base(view, tensor, x)
        if base is not None:
            return sign * base[0], factors, interior + base[1]
        made = view.producer(tensor)
        if made is None:
            return None
        op, inputs = made
        interior.append(tensor)
        if op == "Neg" and len(inputs) == 1:
            sign, tensor = -sign, inputs[0]
        elif op == "Mul" and len(inputs) == 2:
            values = [view.constant(name) for name in inputs]
            known = [i for i, v in enumerate(values) if v is not None]
            if len(known) != 1:
                return None
            value = next(v for v in values if v is not None)
            if not np.issubdtype(value.dtype, np.floating) or not np.all(np.isfinite(value)):
                return None
            factors.append(value)
            tensor = inputs[1 - known[0]]
        else:
            return None
    return None


def match_prelu(view: GraphView, output: str) -> PReluMatch | None:
    """The PReLU that the Add/Sub making `output` computes, or None (see the module doc)."""
    made = view.producer(output)
    if made is None or len(made[1]) != 2:
        return None
    op, inputs = made
    if op in ADD_OPS:
        orders = [(inputs[0], inputs[1], 1.0), (inputs[1], inputs[0], 1.0)]
    elif op == "Sub":
        orders = [(inputs[0], inputs[1], -1.0)]
    else:
        return None
    for relu, negative, top_sign in orders:
        made_relu = view.producer(relu)
        if made_relu is None or made_relu[0] != "Relu" or len(made_relu[1]) != 1:
            continue
        x = made_relu[1][0]
        found = _negative_part(view, negative, x)
        if found is None:
            continue
        k, factors, interior = found
        if sum(not is_power_of_two(f) for f in factors) > 1:
            continue  # two roundings: PRelu would not give the same floats
        if any(view.uses(t) != 1 for t in (relu, *interior)):
            continue  # someone else reads an intermediate: removing it would break them
        dtype = np.result_type(*factors) if factors else np.dtype(np.float32)
        slope = np.asarray(top_sign * k, np.float64)
        for factor in factors:
            slope = slope * factor.astype(np.float64)
        return PReluMatch(output, x, slope.astype(dtype), relu, tuple(dict.fromkeys(interior)))
    return None


def fits(slope: np.ndarray, shape: list[int | None] | None) -> bool:
    """True when `slope` broadcasts to a tensor of `shape` without growing it (None = unknown
    dimension; an unknown rank only takes a one-element slope)."""
    if shape is None:
        return slope.size == 1
    if slope.ndim > len(shape):
        return False
    tail = shape[len(shape) - slope.ndim:] if slope.ndim else []
    return all(s == 1 or (d is not None and s == d) for s, d in zip(slope.shape, tail, strict=True))
