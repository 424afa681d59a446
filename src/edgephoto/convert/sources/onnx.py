"""The `onnx` source: run with onnxruntime for parity; reach TensorFlow formats via onnx2tf.

onnx2tf 1.28.8 runs in a child process (it may sys.exit) inside a scratch directory that holds
its calibration sample file, made here from the package's own photos: otherwise it downloads
that file on every conversion of a 4-D RGB input. It turns 4-D tensors NHWC; when the spec says
NCHW the SavedModel is wrapped so that its signature takes and returns the spec's layout.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from edgephoto.convert.graph import ConvertContext, Runner, register_edge, register_source_runner
from edgephoto.errors import ConversionError
from edgephoto.zoo.spec import ModelSpec

CALIBRATION_FILE = "calibration_image_sample_data_20x128x128x3_float32.npy"
NHWC_TO_NCHW, NCHW_TO_NHWC = (0, 3, 1, 2), (0, 2, 3, 1)


@register_source_runner("onnx")
def onnx_runner(path: Path, ctx: ConvertContext) -> Runner:
    """The model run by the runtime's onnxruntime backend (CPU provider)."""
    from edgephoto.convert.edge_tools import backend_runner

    return backend_runner("onnxruntime", path, ctx)


def calibration_photos(count: int = 20, size: int = 128) -> np.ndarray:
    """`count` real-photo crops (size x size RGB, 0-1 float32) from the package's sample photos."""
    from PIL import Image

    from edgephoto.runtime.image_io import SAMPLES, sample_path

    photos = [sample_path(name) for name in sorted(SAMPLES)]  # the runtime's built-in photos
    crops = []
    for i in range(count):
        with Image.open(photos[i % len(photos)]) as image:
            rgb = image.convert("RGB")
        side = min(rgb.size) * (1.0 - 0.12 * (i // len(photos)))  # nested centred crops
        left, top = (rgb.width - side) / 2, (rgb.height - side) / 2
        box = (round(left), round(top), round(left + side), round(top + side))
        crops.append(np.asarray(rgb.resize((size, size), Image.Resampling.BILINEAR, box=box), np.float32))
    return np.stack(crops) / 255.0


def _static_shape(spec: ModelSpec, shape: tuple[int | None, ...]) -> list[int]:
    return [d if d is not None else (1 if i == 0 else spec.tile.tile) for i, d in enumerate(shape)]


def run_onnx2tf(path: Path, ctx: ConvertContext) -> Path:
    """onnx2tf's output directory (SavedModel + <stem>_float32.tflite), offline."""
    from edgephoto.convert.edge_tools import load_onnx, run_converter
    from edgephoto.convert.onnx_passes.prune import for_onnx2tf

    model = load_onnx(path)  # a clear InputFileError before the child process starts
    work = Path(ctx.workdir) / "onnx2tf"
    work.mkdir(parents=True, exist_ok=True)
    np.save(work / CALIBRATION_FILE, calibration_photos())
    initializers = {init.name for init in model.graph.initializer}
    graph_inputs = [i.name for i in model.graph.input if i.name not in initializers]
    shapes = [f"{name}:{','.join(str(d) for d in _static_shape(ctx.spec, t.shape))}"
              for name, t in zip(graph_inputs, ctx.spec.inputs, strict=False)]
    static = {name: _static_shape(ctx.spec, t.shape)
              for name, t in zip(graph_inputs, ctx.spec.inputs, strict=False)}
    path = for_onnx2tf(path, ctx, static)
    args = ["-i", str(Path(path).resolve()), "-o", "out", "-osd", "-coion", "-n"]
    if shapes:
        args += ["-ois", *shapes]
    keep = [name for name, t in zip(graph_inputs, ctx.spec.inputs, strict=False)
            if t.layout == "NHWC" and len(t.shape) == 4]
    if keep:  # onnx2tf would read an NHWC input as NCHW and transpose it
        args += ["-kat", *keep]
    run_converter("onnx2tf", args, ctx, cwd=work, target="tflite")
    ctx.notes.append("onnx2tf 1.28.8 (offline: local calibration sample of real photo crops)")
    return work / "out"


def _layout_fix(spec_shape: list[int], got: list[int | None], layout: str) -> tuple[int, ...] | None:
    """The transpose taking onnx2tf's tensor to the spec's shape (None: already right)."""
    def same(a: list[int | None], b: list[int]) -> bool:  # onnx2tf leaves resized dims open
        return all(x is None or x == y for x, y in zip(a, b, strict=True))

    if len(spec_shape) != 4 or same(got, spec_shape):
        return None
    fix = NHWC_TO_NCHW if layout == "NCHW" else NCHW_TO_NHWC
    if same([got[i] for i in fix], spec_shape):
        return fix
    raise ConversionError(f"onnx2tf made an output of shape {got}; the spec says {spec_shape}")


def _safe(name: str) -> str:
    return re.sub(r"\W", "_", name).strip("_") or "x"


def wrap_to_spec_layout(saved: Path, onnx_outputs: list[str], ctx: ConvertContext) -> Path:
    """A SavedModel whose signature takes/returns the spec's tensors (names and layout).

    onnx2tf names its signature outputs output_0, output_1, ...; the wrapper keys them by the
    spec's names so later edges match by name, never by position.
    """
    import tensorflow as tf

    from edgephoto.convert.edge_tools import match_names

    spec = ctx.spec
    loaded = tf.saved_model.load(str(saved))
    fn = loaded.signatures["serving_default"]
    in_keys = list(fn.structured_input_signature[1])
    out_keys = sorted(fn.structured_outputs, key=lambda k: int(re.sub(r"\D", "", k) or 0))
    onnx_to_key = dict(zip(onnx_outputs, out_keys, strict=False))
    out_map = match_names([t.name for t in spec.outputs], onnx_outputs)
    in_fix = [None if t.layout != "NCHW" or len(t.shape) != 4 else NCHW_TO_NHWC for t in spec.inputs]
    out_fix = [
        _layout_fix(_static_shape(spec, t.shape),
                    list(fn.structured_outputs[onnx_to_key[out_map[t.name]]].shape), t.layout)
        for t in spec.outputs
    ]
    signature = [tf.TensorSpec(_static_shape(spec, t.shape), t.dtype, name=_safe(t.name))
                 for t in spec.inputs]

    class SpecLayout(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = loaded

        @tf.function(input_signature=signature)
        def serve(self, *args: Any) -> dict[str, Any]:
            feeds = {key: tf.transpose(a, fix) if fix else a
                     for key, a, fix in zip(in_keys, args, in_fix, strict=False)}
            result = self.inner.signatures["serving_default"](**feeds)
            return {_safe(t.name): tf.transpose(result[onnx_to_key[out_map[t.name]]], fix)
                    if fix else result[onnx_to_key[out_map[t.name]]]
                    for t, fix in zip(spec.outputs, out_fix, strict=True)}

    module = SpecLayout()
    out = Path(ctx.workdir) / "spec_layout_savedmodel"
    tf.saved_model.save(module, str(out), signatures={"serving_default": module.serve.get_concrete_function()})
    if any(in_fix) or any(out_fix):
        ctx.notes.append("savedmodel: onnx2tf's NHWC tensors transposed back to the spec's layout")
    return out


def _dequantized(model: Any, ctx: ConvertContext) -> tuple[Path, ConvertContext, list[Any]]:
    """A float copy of a QDQ model (onnx2tf mangles QDQ graphs), the context with the matching
    float spec, and the integer I/O it turned float (keyed by spec name)."""
    import dataclasses

    import onnx

    from edgephoto.convert.edge_tools import match_names
    from edgephoto.convert.onnx_passes import dequantize as dq

    float_model, mappings = dq.dequantize(model)
    names = {**match_names([t.name for t in ctx.spec.inputs], [i.name for i in model.graph.input]),
             **match_names([t.name for t in ctx.spec.outputs], [o.name for o in model.graph.output])}
    by_graph = {graph_name: spec_name for spec_name, graph_name in names.items()}
    mappings = [dataclasses.replace(m, name=by_graph.get(m.name, m.name)) for m in mappings]
    out = Path(ctx.workdir) / "dequantized.onnx"
    onnx.save(float_model, str(out))
    ctx.notes.append("savedmodel: " + dq.describe(mappings))
    return out, dataclasses.replace(ctx, spec=dq.float_spec(ctx.spec, mappings)), mappings


@register_edge("onnx", "savedmodel")
def onnx_to_savedmodel(path: Path, ctx: ConvertContext) -> Path:
    """onnx2tf, then the spec-layout wrapper. A QDQ (integer) model becomes its dequantized
    float equivalent first; the record beside the SavedModel says which tensors changed."""
    from edgephoto.convert.edge_tools import load_onnx
    from edgephoto.convert.onnx_passes.dequantize import is_quantized, save_record

    model = load_onnx(path)
    outputs = [o.name for o in model.graph.output]
    if not is_quantized(model):
        return wrap_to_spec_layout(run_onnx2tf(path, ctx), outputs, ctx)
    float_path, float_ctx, mappings = _dequantized(model, ctx)
    saved = wrap_to_spec_layout(run_onnx2tf(float_path, float_ctx), outputs, float_ctx)
    save_record(saved, mappings)
    return saved
