"""ESRGAN x4 int8 on every engine: the accuracy guard, Set5 PSNR-Y fp32 vs int8, speed vs TF fp32.

    nice -n 10 python benchmarks/esrgan_int8.py [--models esrgan-slim-x4,esrgan-thick-x4] [--runs 5]
    python benchmarks/esrgan_int8.py --render benchmarks/results/esrgan_int8.json

For each model and engine (onnx/onnxruntime, tflite/litert, openvino/openvino): the fp32
artifact (edgephoto.api.zoo_artifact) and its int8 artifact (edgephoto.quantize.directory
.quantize_directory with the default options: the built-in photos, 64 calibration crops, edge
layers float, the task's guard). The guard's verdict and drop (held-out HR crops) are recorded
as the quantizer reports them; a refused int8 is a result, not an error.

Set5 x4 with the data README's protocol (crop to a multiple of 4, PIL bicubic down, upscale()
through edgephoto.load, PSNR-Y BT.601 with 4 px shaved) for every fp32 and int8 artifact.
Latency: one real 128² input tile (a crop of the built-in astronaut photo) through each
artifact's backend, 1 thread, and TensorFlow fp32 (tf_keras on the same TF.js weights, 1 intra-
and 1 inter-op thread) in the same run, interleaved, rotating order; medians and the ratio to TF.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SET5 = REPO.parent / "shared" / "data" / "sr" / "set5"
RESULTS = REPO / "benchmarks" / "results" / "esrgan_int8.json"
ENGINES = {"onnx": "onnxruntime", "tflite": "litert", "openvino": "openvino"}
GOAL_DB, GOAL_SPEEDUP = 0.3, 3.0


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def set5_psnr(artifact: Path, backend: str) -> dict[str, float]:
    import edgephoto
    from edgephoto.metrics import psnr_y, sr_pair

    scores = {}
    with edgephoto.load(artifact, backend=backend, threads=1) as model:
        for path in sorted(SET5.glob("*.png")):
            hr, lr = sr_pair(np.asarray(Image.open(path).convert("RGB")), 4)
            scores[path.stem] = psnr_y(hr, model(lr), 4)
    return {**scores, "mean": float(np.mean(list(scores.values())))}


def build(model: str, target: str, artifacts: Path, max_drop: float) -> dict[str, Any]:
    """fp32 and int8 artifacts of `model` for `target`; the guard's verdict on int8 (limit max_drop dB)."""
    from edgephoto.api import zoo_artifact
    from edgephoto.errors import AccuracyDropError
    from edgephoto.quantize.directory import quantize_directory

    fp32 = zoo_artifact(model, ENGINES[target], artifacts=artifacts, progress=log)
    entry: dict[str, Any] = {"target": target, "backend": ENGINES[target], "fp32": str(fp32)}
    started = time.perf_counter()
    try:
        int8, acc = quantize_directory(fp32, "int8", artifacts, options={"max_drop": max_drop}, progress=log)
        entry.update(int8=str(int8), guard="passed", accuracy=_plain(acc),
                     guard_drop_db=acc["drop"], guard_limit_db=acc["limit"]["max_drop"])
    except AccuracyDropError as exc:
        entry.update(int8=None, guard="refused", accuracy=_plain(exc.measured), error=str(exc),
                     guard_drop_db=exc.drop, guard_limit_db=exc.limit)
    entry["quantize_s"] = round(time.perf_counter() - started, 1)
    return entry


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def tf_runner(model: str) -> Any:
    """TensorFlow fp32 on the zoo's own weights (tf_keras from the TF.js layers model)."""
    import tensorflow as tf

    from edgephoto.convert.sources.tfjs import load_layers_model
    from edgephoto.zoo import get_model
    from edgephoto.zoo.weights import resolve

    spec = get_model(model)
    net = load_layers_model(resolve(spec) / spec.files[0].path)
    call = tf.function(lambda x: net(x, training=False))

    def run(value: np.ndarray) -> np.ndarray:
        return np.asarray(call(tf.constant(value)))

    return run


def latency(model: str, entries: list[dict[str, Any]], runs: int) -> dict[str, float]:
    from edgephoto.runtime.artifact import load_artifact
    from edgephoto.runtime.image_io import load_sample
    from edgephoto.runtime.tasks.common import model_input
    from edgephoto.zoo import get_model

    spec = get_model(model)
    rgb = load_sample("astronaut").rgb
    tile = model_input(rgb[192:320, 192:320], spec.inputs[0])
    runners: dict[str, Any] = {"tensorflow fp32": tf_runner(model)}
    opened = []
    for entry in entries:
        for precision in ("fp32", "int8"):
            if entry.get(precision):
                backend = load_artifact(Path(entry[precision]), backend=entry["backend"], threads=1)[0]
                opened.append(backend)
                name = backend.inputs()[0].name
                runners[f"{entry['target']} {precision}"] = (lambda b, n: lambda v: b.run({n: v}))(backend, name)
    times: dict[str, list[float]] = {k: [] for k in runners}
    names = list(runners)
    try:
        for key in names:
            runners[key](tile)
        for round_ in range(runs):
            for key in names[round_ % len(names):] + names[:round_ % len(names)]:
                started = time.perf_counter()
                runners[key](tile)
                times[key].append((time.perf_counter() - started) * 1000)
    finally:
        for backend in opened:
            backend.close()
    return {k: round(statistics.median(v), 2) for k, v in times.items()}


def measure(model: str, targets: list[str], artifacts: Path, runs: int, max_drop: float) -> dict[str, Any]:
    entries = [build(model, t, artifacts, max_drop) for t in targets]
    for entry in entries:
        log(f"{model} {entry['target']}: Set5")
        entry["set5_fp32"] = set5_psnr(Path(entry["fp32"]), entry["backend"])
        if entry["int8"]:
            entry["set5_int8"] = set5_psnr(Path(entry["int8"]), entry["backend"])
            entry["set5_drop_db"] = round(entry["set5_fp32"]["mean"] - entry["set5_int8"]["mean"], 4)
    log(f"{model}: latency")
    ms = latency(model, entries, runs)
    tf_ms = ms["tensorflow fp32"]
    for entry in entries:
        for precision in ("fp32", "int8"):
            key = f"{entry['target']} {precision}"
            if key in ms:
                entry[f"{precision}_ms"] = ms[key]
                entry[f"{precision}_vs_tf"] = round(tf_ms / ms[key], 2)
        entry["meets_goal"] = bool(entry["int8"] and entry.get("set5_drop_db", 9) <= GOAL_DB
                                   and (entry["guard_drop_db"] or 9) <= GOAL_DB
                                   and entry.get("int8_vs_tf", 0) >= GOAL_SPEEDUP)
    return {"model": model, "tf_fp32_ms": tf_ms, "engines": entries}


def markdown(data: dict[str, Any]) -> str:
    lines = ["# ESRGAN x4 int8 on every engine", "",
             f"{data['date']}, {data['cpu']}; 1 thread; latency = median of {data['runs']} interleaved runs on one "
             "real 128² tile, TF fp32 measured in the same run. Guard = the quantizer's accuracy guard on held-out "
             f"HR crops; Set5 = PSNR-Y, x4, 4 px shaved. Goal: int8 within {GOAL_DB} dB (guard and Set5) and "
             f">= {GOAL_SPEEDUP}x TF fp32.", "",
             "| model | engine | guard | guard drop dB (limit) | Set5 fp32 | Set5 int8 | Set5 drop dB | fp32 ms | int8 ms "
             "| TF fp32 ms | fp32 vs TF | int8 vs TF | goal |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in data["rows"]:
        for e in row["engines"]:
            def num(v: Any, f: str = ".3f") -> str:
                return "-" if v is None else format(v, f)
            lines.append(
                f"| {row['model']} | {e['target']} | {e['guard']} | {num(e['guard_drop_db'])} ({e['guard_limit_db']}) | "
                f"{num(e['set5_fp32']['mean'])} | {num((e.get('set5_int8') or {}).get('mean'))} | "
                f"{num(e.get('set5_drop_db'))} | {num(e.get('fp32_ms'), '.1f')} | {num(e.get('int8_ms'), '.1f')} | "
                f"{row['tf_fp32_ms']:.1f} | {num(e.get('fp32_vs_tf'), '.2f')}x | {num(e.get('int8_vs_tf'), '.2f')}x | "
                f"{'yes' if e['meets_goal'] else 'no'} |")
    notes = data.get("notes", [])
    return "\n".join(lines + ([""] + [f"- {n}" for n in notes] if notes else [])) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="esrgan-slim-x4,esrgan-thick-x4")
    parser.add_argument("--targets", default="onnx,tflite,openvino")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--artifacts", type=Path, default=Path("/tmp/edgephoto-esrgan-int8"))
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--render", type=Path)
    parser.add_argument("--max-drop", type=float, default=GOAL_DB, help="the guard's limit in dB (task default 0.5)")
    args = parser.parse_args()
    from edgephoto.manifest import write_json_atomic
    from edgephoto.runtime.devices import cpu_facts

    if args.render:
        args.render.with_suffix(".md").write_text(markdown(json.loads(args.render.read_text())))
        return
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    facts = cpu_facts()
    data: dict[str, Any] = {"date": datetime.date.today().isoformat(), "runs": args.runs, "max_drop_db": args.max_drop,
                            "cpu": f"{facts['model']} ({', '.join(facts['flags'])})", "rows": []}
    for model in [m for m in args.models.split(",") if m]:
        data["rows"].append(measure(model, [t for t in args.targets.split(",") if t], args.artifacts, args.runs,
                                    args.max_drop))
        write_json_atomic(args.out, data)
        args.out.with_suffix(".md").write_text(markdown(data))


if __name__ == "__main__":
    main()
