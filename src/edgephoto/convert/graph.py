"""The conversion graph. Nodes are formats; an edge is one registered converter function.

A conversion from a source format to a target format is the shortest path of edges, so adding a
source or target is one file that registers its edges. Every edge takes the path of its input
(file or directory) and returns the path it wrote inside `ctx.workdir`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgephoto.convert.targets import TARGETS
from edgephoto.errors import ConversionError, UnknownNameError
from edgephoto.zoo.spec import ModelSpec

# Source formats known to the graph (a directory or a file each); each target adds its node.
SOURCE_FORMATS = (
    "tfjs_layers",  # model.json (layers) + shards
    "tfjs_graph",  # model.json (graph) + shards
    "keras",  # a tf_keras model saved as .keras/.h5
    "frozen_pb",  # TF1 frozen GraphDef .pb
    "savedmodel",  # TF2 SavedModel directory
    "tflite",
    "onnx",
    "torch",  # a torch.nn.Module passed through the Python API (or a TorchScript .pt)
    "ncnn",  # an ncnn .param with its .bin beside it
)
# the sources whose parity reference is TensorFlow itself (its oneDNN setting is recorded)
TENSORFLOW_FORMATS = ("frozen_pb", "savedmodel", "keras", "tfjs_graph", "tfjs_layers")
FORMATS = SOURCE_FORMATS + tuple(t.node for _, t in TARGETS if t.node not in SOURCE_FORMATS)


@dataclass
class ConvertContext:
    """What every edge may need: the model's spec, a scratch dir, options and a progress hook."""

    spec: ModelSpec
    workdir: Path
    options: dict[str, Any] = field(default_factory=dict)
    progress: Callable[[str], None] = lambda message: None
    notes: list[str] = field(default_factory=list)  # facts edges want in the manifest


Edge = Callable[[Path, ConvertContext], Path]
EDGES: dict[tuple[str, str], Edge] = {}
# every source module, then each target's own module (targets/<name>.py), in table order
EDGE_MODULES = (
    "edgephoto.convert.sources.tfjs",
    "edgephoto.convert.sources.tensorflow",
    "edgephoto.convert.sources.tflite",
    "edgephoto.convert.sources.onnx",
    "edgephoto.convert.sources.torch",
    "edgephoto.convert.sources.ncnn",
) + tuple(f"edgephoto.convert.targets.{name}" for name in TARGETS.names())
_loaded = False


def register_edge(source: str, target: str) -> Callable[[Edge], Edge]:
    """Register the converter from `source` format to `target` format (once per pair)."""
    for fmt in (source, target):
        if fmt not in FORMATS:
            raise UnknownNameError("format", fmt, FORMATS)

    def wrap(fn: Edge) -> Edge:
        if (source, target) in EDGES:
            raise ValueError(f"edge {source} -> {target} is registered twice")
        EDGES[(source, target)] = fn
        return fn

    return wrap


def _load_edges() -> None:
    global _loaded
    if not _loaded:
        import importlib

        for module in EDGE_MODULES:
            importlib.import_module(module)  # modules import their frameworks inside edges
        _loaded = True


def find_path(source: str, target: str) -> list[tuple[str, str]]:
    """Shortest chain of edges from `source` to `target` (breadth-first)."""
    _load_edges()
    if source == target:
        return []
    previous: dict[str, str] = {source: source}
    queue = deque([source])
    while queue:
        node = queue.popleft()
        for a, b in EDGES:
            if a == node and b not in previous:
                previous[b] = a
                if b == target:
                    chain = [b]
                    while chain[-1] != source:
                        chain.append(previous[chain[-1]])
                    chain.reverse()
                    return list(zip(chain, chain[1:], strict=False))
                queue.append(b)
    raise ConversionError(f"no conversion path from {source} to {target}")


def convert_path(path: Path, source: str, target: str, ctx: ConvertContext) -> Path:
    """Run every edge on the way from `source` to `target`; returns the final artifact path."""
    for a, b in find_path(source, target):
        ctx.progress(f"{ctx.spec.name}: {a} -> {b}")
        path = EDGES[(a, b)](path, ctx)
    return path


# Source runners: run a model in its own framework, for parity. A runner factory takes the
# source path and context and returns a function from named input arrays to named outputs
# (names as in the ModelSpec; arrays in the spec's layout and dtype).
Runner = Callable[[dict[str, Any]], dict[str, Any]]
RunnerFactory = Callable[[Path, ConvertContext], Runner]
SOURCE_RUNNERS: dict[str, RunnerFactory] = {}


def register_source_runner(fmt: str) -> Callable[[RunnerFactory], RunnerFactory]:
    """Register how to run a model of format `fmt` with its own framework (once per format)."""

    def wrap(fn: RunnerFactory) -> RunnerFactory:
        if fmt in SOURCE_RUNNERS:
            raise ValueError(f"source runner for {fmt} is registered twice")
        SOURCE_RUNNERS[fmt] = fn
        return fn

    return wrap


def source_runner(path: Path, fmt: str, ctx: ConvertContext) -> Runner:
    _load_edges()
    if fmt not in SOURCE_RUNNERS:
        raise ConversionError(f"no way to run a {fmt} model for parity")
    return SOURCE_RUNNERS[fmt](path, ctx)


# Finalizers: what a target does to an artifact that needed no conversion (source format ==
# target format), e.g. rewrite custom ops and embed metadata into a .tflite. Default: unchanged.
FINALIZERS: dict[str, Edge] = {}


def register_finalizer(fmt: str) -> Callable[[Edge], Edge]:
    def wrap(fn: Edge) -> Edge:
        if fmt in FINALIZERS:
            raise ValueError(f"finalizer for {fmt} is registered twice")
        FINALIZERS[fmt] = fn
        return fn

    return wrap


def finalize(path: Path, fmt: str, ctx: ConvertContext) -> Path:
    _load_edges()
    return FINALIZERS[fmt](path, ctx) if fmt in FINALIZERS else path
