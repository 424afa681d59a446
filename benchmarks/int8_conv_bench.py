"""Why TFLite int8 is not faster than fp32 on this CPU: one 3x3 conv, fp32 vs int8, on LiteRT
(XNNPACK) and on ONNX Runtime, timed interleaved in one process (1 thread, median).

The layer is ESRGAN-slim's own shape family (3x3, C -> C channels, 128x128 tile) at several
widths, so the ratio shows the kernels, not a model's structure. Weights are drawn at random:
speed does not depend on their values; int8 calibration uses the layer's own inputs.

    python benchmarks/int8_conv_bench.py --out benchmarks/results/int8_conv_bench.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

TILE = 128


def _keras_conv(channels: int) -> Any:
    import tf_keras as keras

    inp = keras.Input((TILE, TILE, channels), batch_size=1, name="x")
    out = keras.layers.Conv2D(channels, 3, padding="same", activation="relu", name="conv")(inp)
    model = keras.Model(inp, out)
    rng = np.random.default_rng(channels)
    kernel, bias = model.get_layer("conv").get_weights()
    model.get_layer("conv").set_weights([rng.normal(0, 0.1, kernel.shape).astype(np.float32), bias])
    return model


def _samples(channels: int, count: int = 8) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.uniform(0, 1, (1, TILE, TILE, channels)).astype(np.float32) for _ in range(count)]


def _tflite(model: Any, channels: int, int8: bool) -> bytes:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([s] for s in _samples(channels))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return converter.convert()


def _onnx(model: Any, channels: int, work: Path, int8: bool) -> Path:
    import tensorflow as tf
    import tf2onnx

    path = work / f"conv{channels}.onnx"
    if not path.exists():
        signature = [tf.TensorSpec((1, TILE, TILE, channels), tf.float32, name="x")]
        tf2onnx.convert.from_keras(model, input_signature=signature, opset=17, output_path=str(path))
    if not int8:
        return path
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    class Reader:
        def __init__(self) -> None:
            self.items = iter([{"x": s} for s in _samples(channels)])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.items, None)

    out = work / f"conv{channels}.int8.onnx"
    quantize_static(path, out, Reader(), quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8, per_channel=True)
    return out


def _runners(channels: int, work: Path) -> dict[str, Any]:
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter

    model = _keras_conv(channels)
    x = _samples(channels, 1)[0]
    runners = {}
    for int8 in (False, True):
        interpreter = Interpreter(model_content=_tflite(model, channels, int8), num_threads=1)
        interpreter.allocate_tensors()
        index = interpreter.get_input_details()[0]["index"]

        def run_tflite(it: Any = interpreter, i: int = index) -> None:
            it.set_tensor(i, x)
            it.invoke()

        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(_onnx(model, channels, work, int8)), options,
                                       providers=["CPUExecutionProvider"])
        name = "int8" if int8 else "fp32"
        runners[f"litert {name}"] = run_tflite
        runners[f"onnxruntime {name}"] = lambda s=session: s.run(None, {"x": x})
    return runners


def measure(widths: list[int], runs: int) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for channels in widths:
            runners = _runners(channels, Path(scratch))
            times: dict[str, list[float]] = {k: [] for k in runners}
            for run in runners.values():
                run()
            for _ in range(runs):
                for key, run in runners.items():
                    start = time.perf_counter()
                    run()
                    times[key].append((time.perf_counter() - start) * 1000)
            median = {k: statistics.median(v) for k, v in times.items()}
            macs = TILE * TILE * 9 * channels * channels
            for engine in ("litert", "onnxruntime"):
                fp32, int8 = median[f"{engine} fp32"], median[f"{engine} int8"]
                rows.append({"channels": channels, "engine": engine, "fp32_ms": fp32, "int8_ms": int8,
                             "int8_speedup": fp32 / int8, "gmacs_fp32": macs / fp32 / 1e6,
                             "gmacs_int8": macs / int8 / 1e6})
                print(f"C={channels:4d} {engine:12s} fp32 {fp32:7.2f} ms  int8 {int8:7.2f} ms  "
                      f"x{fp32 / int8:.2f}", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", default="16,32,64,128")
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    from quantize_table import cpu_flags  # same directory

    rows = measure([int(w) for w in args.widths.split(",")], args.runs)
    if args.out:
        data = {"cpu_flags": cpu_flags(), "runs": args.runs, "tile": TILE, "threads": 1, "rows": rows,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        args.out.write_text(json.dumps(data, indent=2) + "\n")
        lines = ["# One 3x3 conv + ReLU, fp32 vs int8 (1 thread, 128x128, median of interleaved runs)", "",
                 f"CPU flags: {', '.join(data['cpu_flags'])}.", "",
                 "| channels | engine | fp32 ms | int8 ms | int8 × faster | GMAC/s fp32 | GMAC/s int8 |",
                 "|---|---|---|---|---|---|---|"]
        lines += [f"| {r['channels']} | {r['engine']} | {r['fp32_ms']:.2f} | {r['int8_ms']:.2f} | "
                  f"{r['int8_speedup']:.2f} | {r['gmacs_fp32']:.1f} | {r['gmacs_int8']:.1f} |" for r in rows]
        args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
