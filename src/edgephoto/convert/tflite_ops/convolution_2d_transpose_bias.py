"""MediaPipe's `Convolution2DTransposeBias` -> builtin TRANSPOSE_CONV (version 3, with bias).

MediaPipe wrote this custom op before TFLite's TRANSPOSE_CONV took a bias input. Its inputs are
(input, weights OHWI, bias) and its custom options are a raw TfLiteTransposeConvParams struct:
three little-endian int32s (padding enum, stride_w, stride_h), where the TfLitePadding enum is
1 = SAME, 2 = VALID. TRANSPOSE_CONV takes (output_shape, weights, input, bias), so the rewrite
reorders the inputs and adds the output shape as a constant int32 tensor.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from edgephoto.convert.tflite_ops import add_const_tensor, opcode_index, register_custom_op, schema
from edgephoto.errors import UnsupportedOpError

OP_NAME = "Convolution2DTransposeBias"
TRANSPOSE_CONV_WITH_BIAS = 3  # the first TRANSPOSE_CONV version that accepts a bias input


def decode_options(raw: bytes) -> tuple[int, int, int]:
    """(schema Padding, stride_w, stride_h) from the custom options bytes."""
    fb = schema()
    if len(raw) < 12:
        raise UnsupportedOpError(OP_NAME, "builtin", f"custom options of {len(raw)} bytes, want 12")
    padding, stride_w, stride_h = struct.unpack_from("<3i", raw)
    paddings = {1: fb.Padding.SAME, 2: fb.Padding.VALID}
    if padding not in paddings or stride_w < 1 or stride_h < 1:
        raise UnsupportedOpError(
            OP_NAME, "builtin", f"padding={padding} stride=({stride_w},{stride_h}) not understood"
        )
    return paddings[padding], stride_w, stride_h


@register_custom_op(OP_NAME)
def rewrite(model: Any, subgraph: Any, op: Any) -> None:
    fb = schema()
    if len(op.inputs) != 3 or len(op.outputs) != 1:
        raise UnsupportedOpError(OP_NAME, "builtin", f"{len(op.inputs)} inputs, expected 3")
    padding, stride_w, stride_h = decode_options(bytes(op.customOptions if op.customOptions is not None else b""))
    x, weights, bias = op.inputs
    out_shape = np.asarray(subgraph.tensors[op.outputs[0]].shape, dtype=np.int32)
    out_name = subgraph.tensors[op.outputs[0]].name
    out_name = out_name.decode() if isinstance(out_name, bytes) else str(out_name)
    shape_tensor = add_const_tensor(model, subgraph, f"{out_name}/output_shape", out_shape)

    options = fb.TransposeConvOptionsT()
    options.padding = padding
    options.strideW, options.strideH = stride_w, stride_h
    options.fusedActivationFunction = fb.ActivationFunctionType.NONE
    op.opcodeIndex = opcode_index(model, fb.BuiltinOperator.TRANSPOSE_CONV, TRANSPOSE_CONV_WITH_BIAS)
    op.inputs = [shape_tensor, weights, x, bias]
    op.builtinOptionsType = fb.BuiltinOptions.TransposeConvOptions
    op.builtinOptions = options
    op.customOptions = None
    op.customOptionsFormat = 0
