"""TensorFlow sources: TF1 frozen graphs and Keras files into the SavedModel hub, and runners.

`savedmodel` is the hub every TensorFlow-family source converges on, so downstream converters
(TFLite, ONNX, OpenVINO, Core ML) see one shape of input: a SavedModel whose `serving_default`
signature has the spec's fixed input shape and the spec's tensor names. The helpers here
(`save_signature`, `graph_def_function`) are shared with the TF.js loader.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgephoto.convert.graph import (
    ConvertContext,
    Runner,
    register_edge,
    register_source_runner,
)
from edgephoto.convert.tf_common import (
    custom_layers,
    fix_placeholder_shapes,
    import_tf,
    import_tf_keras,
    tensor_name,
)
from edgephoto.errors import ConversionError, InputFileError
from edgephoto.files import write_dir_atomic
from edgephoto.zoo.spec import ModelSpec, TensorSpec


def onednn_rewrites_on() -> bool:
    """Whether this process's TensorFlow runs oneDNN's fused kernels (CPU-dependent numerics).

    False whenever edgephoto.convert was imported before TensorFlow; True only when the host
    program imported TensorFlow first with TF_ENABLE_ONEDNN_OPTS unset on a VNNI/BF16/AMX CPU.
    """
    tf = import_tf()
    try:
        from tensorflow.python.util import _pywrap_util_port  # type: ignore[import-untyped]
    except ImportError:  # a TensorFlow without the probe: it follows the variable it read
        return os.environ.get("TF_ENABLE_ONEDNN_OPTS") != "0"
    del tf
    return bool(_pywrap_util_port.IsMklEnabled())


def input_specs(spec: ModelSpec) -> list[Any]:
    """tf.TensorSpec per spec input, named as in the zoo so converters keep the names."""
    tf = import_tf()
    return [tf.TensorSpec(list(t.shape), tf.as_dtype(t.dtype), name=t.name) for t in spec.inputs]


def save_signature(
    call: Callable[..., Sequence[Any]], spec: ModelSpec, out: Path, keep: Any = None
) -> Path:
    """Save `call(*inputs) -> outputs (in spec order)` as a SavedModel `serving_default`.

    Inputs get the spec's fixed shapes and names; outputs are keyed by the spec's output names.
    `keep` (e.g. a Keras model) is tracked by the module so its variables are saved.
    """
    tf = import_tf()
    names = [t.name for t in spec.outputs]

    @tf.function(input_signature=input_specs(spec))
    def serve(*args: Any) -> dict[str, Any]:
        results = call(*args)
        if len(results) != len(names):
            raise ConversionError(
                f"{spec.name}: the model has {len(results)} outputs, the spec names {len(names)}"
            )
        return {n: tf.identity(r, name=n) for n, r in zip(names, results, strict=True)}

    module = tf.Module()
    module.serve = serve
    if keep is not None:
        module.keep = keep
    concrete = serve.get_concrete_function()

    def write(tmp: Path) -> None:
        tf.saved_model.save(module, str(tmp), signatures={"serving_default": concrete})

    return write_dir_atomic(out, write)


def _run_outputs(spec: ModelSpec, outputs: Sequence[Any]) -> dict[str, np.ndarray]:
    return {t.name: np.asarray(o) for t, o in zip(spec.outputs, outputs, strict=True)}


def _feed_list(spec: ModelSpec, feeds: dict[str, Any]) -> list[np.ndarray]:
    missing = [t.name for t in spec.inputs if t.name not in feeds]
    if missing:
        raise ConversionError(f"{spec.name}: feeds lack inputs {missing}")
    return [np.asarray(feeds[t.name], dtype=t.dtype) for t in spec.inputs]


# --- TF1 frozen graphs ---------------------------------------------------------------------


def read_graph_def(path: Path) -> Any:
    """Parse a binary GraphDef; a missing or corrupt file raises InputFileError naming it."""
    tf = import_tf()
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputFileError(path, f"cannot read: {exc.strerror or exc}") from exc
    graph_def = tf.compat.v1.GraphDef()
    try:
        graph_def.ParseFromString(data)
    except Exception as exc:  # protobuf raises DecodeError, a plain Exception subclass
        raise InputFileError(path, f"not a TensorFlow GraphDef ({exc})") from exc
    if not graph_def.node:
        raise InputFileError(path, "GraphDef has no nodes")
    return graph_def


def constant_inputs(spec: ModelSpec) -> dict[str, np.ndarray]:
    """Placeholders the spec freezes (e.g. RVM's recurrent states and downsample_ratio for
    single photos): spec.extra["constant_inputs"] = {name: value}."""
    return {k: np.asarray(v, np.float32) for k, v in spec.extra.get("constant_inputs", {}).items()}


def graph_def_function(
    graph_def: Any,
    inputs: Sequence[TensorSpec],
    outputs: Sequence[str],
    constants: dict[str, np.ndarray] | None = None,
) -> Any:
    """A function from the spec's inputs (arrays or tensors) to a list of `outputs`."""
    tf = import_tf()
    fixed = fix_placeholder_shapes(graph_def, inputs, constants)

    def imports() -> None:
        tf.compat.v1.import_graph_def(fixed, name="")

    try:
        wrapped = tf.compat.v1.wrap_function(imports, [])
        graph = wrapped.graph
        feeds = [graph.get_tensor_by_name(tensor_name(t.name)) for t in inputs]
        fetches = [graph.get_tensor_by_name(tensor_name(n)) for n in outputs]
        pruned = wrapped.prune(feeds, fetches)
    except (KeyError, ValueError, tf.errors.OpError) as exc:
        raise ConversionError(f"cannot import the graph: {exc}") from exc

    def call(*args: Any) -> list[Any]:
        return list(pruned(*[tf.convert_to_tensor(a) for a in args]))

    call.pruned = pruned  # type: ignore[attr-defined]  # keeps the graph alive
    return call


def frozen_graph_to_savedmodel(graph_def: Any, spec: ModelSpec, out: Path) -> Path:
    outputs = [t.name for t in spec.outputs]
    fn = graph_def_function(graph_def, spec.inputs, outputs, constant_inputs(spec))
    return save_signature(lambda *args: fn(*args), spec, out)


@register_edge("frozen_pb", "savedmodel")
def frozen_pb_to_savedmodel(path: Path, ctx: ConvertContext) -> Path:
    """TF1 frozen graph -> SavedModel with the spec's fixed input shape and tensor names."""
    graph_def = read_graph_def(path)
    if ctx.options.get("fuse_prelu", True):  # exact; off only to measure what it saves
        from edgephoto.convert.tf_passes import fuse_prelu_graph_def

        graph_def, fused = fuse_prelu_graph_def(graph_def, ctx.spec.inputs, [t.name for t in ctx.spec.outputs])
        if fused:
            ctx.notes.append(f"savedmodel: {fused} PReLU patterns rewritten in the tf.keras form TFLite fuses")
    return frozen_graph_to_savedmodel(graph_def, ctx.spec, ctx.workdir / f"{ctx.spec.name}_savedmodel")


@register_source_runner("frozen_pb")
def frozen_pb_runner(path: Path, ctx: ConvertContext) -> Runner:
    spec = ctx.spec
    outputs = [t.name for t in spec.outputs]
    fn = graph_def_function(read_graph_def(path), spec.inputs, outputs, constant_inputs(spec))

    def run(feeds: dict[str, Any]) -> dict[str, np.ndarray]:
        return _run_outputs(spec, fn(*_feed_list(spec, feeds)))

    return run


# --- Keras files -----------------------------------------------------------------------------


def load_keras(path: Path) -> Any:
    """A tf_keras model from .keras/.h5 (or a Keras SavedModel dir); knows the zoo's layers."""
    keras = import_tf_keras()

    if not Path(path).exists():
        raise InputFileError(path, "no such file")
    custom = custom_layers()
    try:
        return keras.models.load_model(str(path), custom_objects=custom, compile=False)
    except Exception as exc:  # zip, HDF5, JSON and layer errors of a damaged file come in many types
        raise InputFileError(path, f"not a loadable Keras model ({_first_line(exc)})") from exc


def _first_line(exc: Exception) -> str:
    """The exception's kind and first line: framework messages run to pages of context."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:200]}" if lines else type(exc).__name__


def keras_call(model: Any) -> Callable[..., list[Any]]:
    """Call a Keras model with positional inputs; always a list of outputs."""

    def call(*args: Any) -> list[Any]:
        result = model(list(args) if len(args) > 1 else args[0], training=False)
        return list(result) if isinstance(result, list | tuple) else [result]

    return call


def keras_to_savedmodel(model: Any, spec: ModelSpec, out: Path) -> Path:
    return save_signature(keras_call(model), spec, out, keep=model)


@register_edge("keras", "savedmodel")
def keras_file_to_savedmodel(path: Path, ctx: ConvertContext) -> Path:
    return keras_to_savedmodel(load_keras(path), ctx.spec, ctx.workdir / f"{ctx.spec.name}_savedmodel")


def keras_runner_for(model: Any, spec: ModelSpec) -> Runner:
    call = keras_call(model)

    def run(feeds: dict[str, Any]) -> dict[str, np.ndarray]:
        return _run_outputs(spec, [o.numpy() for o in call(*_feed_list(spec, feeds))])

    return run


@register_source_runner("keras")
def keras_runner(path: Path, ctx: ConvertContext) -> Runner:
    return keras_runner_for(load_keras(path), ctx.spec)


# --- SavedModel ------------------------------------------------------------------------------


@register_source_runner("savedmodel")
def savedmodel_runner(path: Path, ctx: ConvertContext) -> Runner:
    """Run a SavedModel's serving_default; inputs and outputs by the spec's names."""
    tf = import_tf()
    spec = ctx.spec
    if not (Path(path) / "saved_model.pb").exists():
        raise InputFileError(path, "not a SavedModel directory (no saved_model.pb)")
    try:
        loaded = tf.saved_model.load(str(path))
    except Exception as exc:  # protobuf, checkpoint (DATA_LOSS) and graph errors of damaged files
        raise InputFileError(path, f"not a loadable SavedModel ({_first_line(exc)})") from exc
    if "serving_default" not in loaded.signatures:
        raise InputFileError(path, "SavedModel has no serving_default signature")
    signature = loaded.signatures["serving_default"]

    dtypes = {k: v.dtype for k, v in signature.structured_input_signature[1].items()}

    def run(feeds: dict[str, Any]) -> dict[str, np.ndarray]:
        args = dict(zip([t.name for t in spec.inputs], _feed_list(spec, feeds), strict=True))
        # a dequantized integer model takes the same values as float32 (onnx_passes.dequantize)
        result = signature(**{k: tf.constant(v, dtypes.get(k)) for k, v in args.items()})
        missing = [t.name for t in spec.outputs if t.name not in result]
        if missing:
            raise ConversionError(f"SavedModel outputs {sorted(result)} lack {missing}")
        return {t.name: result[t.name].numpy() for t in spec.outputs}

    run.loaded = loaded  # type: ignore[attr-defined]  # keeps the functions alive
    return run
