"""The integer I/O parameters of a quantized .tflite, shared by the TFLite quantizer's users.

A leaf of its own so the accuracy check can read them without importing the quantizer module
(which imports the quantize package that imports the accuracy check).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def io_params(path: Path) -> tuple[tuple[float, int], tuple[float, int]] | None:
    """(scale, zero point) of the first input and output when they are integer, else None."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    if np.dtype(inp["dtype"]).kind not in "iu":
        return None
    return tuple(inp["quantization"]), tuple(out["quantization"])  # type: ignore[return-value]
