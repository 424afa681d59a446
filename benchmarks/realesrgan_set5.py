"""Real-ESRGAN (ncnn sources): Set5 PSNR-Y vs bicubic, and ms per 128² tile per engine vs ncnn.

    nice -n 10 python benchmarks/realesrgan_set5.py [--models realesr-animevideov3-x2,...] [--runs 7]
    python benchmarks/realesrgan_set5.py --render benchmarks/results/realesrgan_set5.json

Set5 with the data README's protocol: crop to a multiple of the scale, PIL bicubic down, upscale
through edgephoto.load (the fp32 artifact, 1 thread), PSNR-Y BT.601 with `scale` px shaved; PIL
bicubic up on the same LR images is the baseline. Latency: one real 128² tile (a crop of the
built-in astronaut photo) through each artifact's backend and through ncnn itself (the model's
own .param/.bin, 1 thread, fp32), interleaved with rotating order in one run; medians.
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
RESULTS = REPO / "benchmarks" / "results" / "realesrgan_set5.json"
ENGINES = {"onnx": "onnxruntime", "openvino": "openvino", "tflite": "litert"}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def set5(scale: int, upscale: Any) -> dict[str, float]:
    from edgephoto.metrics import psnr_y, sr_pair

    scores = {}
    for path in sorted(SET5.glob("*.png")):
        hr, lr = sr_pair(np.asarray(Image.open(path).convert("RGB")), scale)
        scores[path.stem] = round(psnr_y(hr, np.asarray(upscale(lr)), scale), 4)
    return {**scores, "mean": round(float(np.mean(list(scores.values()))), 4)}


def bicubic(scale: int) -> Any:
    from edgephoto.metrics import bicubic_upscale

    return lambda lr: bicubic_upscale(lr, scale)


def measure(model: str, targets: list[str], artifacts: Path, runs: int) -> dict[str, Any]:
    import edgephoto
    from edgephoto.api import zoo_artifact
    from edgephoto.convert.sources.ncnn import ncnn_net, run_ncnn
    from edgephoto.runtime.artifact import load_artifact
    from edgephoto.runtime.image_io import load_sample
    from edgephoto.zoo import get_model
    from edgephoto.zoo.weights import resolve

    spec = get_model(model)
    row: dict[str, Any] = {"model": model, "scale": spec.scale, "set5_bicubic": set5(spec.scale, bicubic(spec.scale)),
                           "engines": {}, "failed": {}}
    built = {}
    for target in targets:
        started = time.perf_counter()
        try:
            built[target] = zoo_artifact(model, ENGINES[target], artifacts=artifacts, progress=log)
        except Exception as exc:  # a target that does not convert is a result, not a crash
            row["failed"][target] = f"{type(exc).__name__}: {str(exc)[:200]}"
            continue
        row["engines"][target] = {"backend": ENGINES[target], "convert_s": round(time.perf_counter() - started, 1)}
    first = next(iter(built), None)
    if first:
        log(f"{model}: Set5 x{spec.scale} ({first})")
        with edgephoto.load(built[first], backend=ENGINES[first], threads=1) as net:
            row["set5_fp32"] = set5(spec.scale, net)
        row["gain_over_bicubic_db"] = round(row["set5_fp32"]["mean"] - row["set5_bicubic"]["mean"], 3)
    # latency on one real 128² tile, RGB 0-1 NCHW
    rgb = load_sample("astronaut").rgb[192:320, 192:320]
    tile = (rgb.astype(np.float32) / 255.0).transpose(2, 0, 1)[None].copy()
    net = ncnn_net(resolve(spec) / spec.files[0].path, threads=1)
    runners: dict[str, Any] = {"ncnn fp32": lambda v: run_ncnn(net, {"data": v}, ["output"]),
                               "PIL bicubic": lambda v: bicubic(spec.scale)(rgb)}
    opened = []
    for target, path in built.items():
        backend = load_artifact(Path(path), backend=ENGINES[target], threads=1)[0]
        opened.append(backend)
        name = backend.inputs()[0].name
        runners[target] = (lambda b, n: lambda v: b.run({n: v}))(backend, name)
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
    row["ms_per_128_tile"] = {k: round(statistics.median(v), 2) for k, v in times.items()}
    return row


def markdown(data: dict[str, Any]) -> str:
    lines = ["# Real-ESRGAN from ncnn files: Set5 and speed", "",
             f"{data['date']}, {data['cpu']}; 1 thread; ms = median of {data['runs']} interleaved runs on one real "
             "128² input tile, ncnn itself (fp32) and PIL bicubic measured in the same run. Set5 = PSNR-Y at the "
             "model's scale, `scale` px shaved, LR by PIL bicubic (data README protocol).", "",
             "| model | scale | Set5 PSNR-Y | bicubic | gain dB | ms per 128² tile (engine) | failed targets |",
             "|---|---|---|---|---|---|---|"]
    for row in data["rows"]:
        ms = ", ".join(f"{k} {v:.1f}" for k, v in row["ms_per_128_tile"].items())
        fp32 = row.get("set5_fp32", {}).get("mean")
        lines.append(f"| {row['model']} | x{row['scale']} | {'-' if fp32 is None else f'{fp32:.3f}'} | "
                     f"{row['set5_bicubic']['mean']:.3f} | {row.get('gain_over_bicubic_db', '-')} | {ms} | "
                     f"{'; '.join(f'{k}: {v}' for k, v in row['failed'].items()) or '-'} |")
    notes = data.get("notes", [])
    return "\n".join(lines + ([""] + [f"- {n}" for n in notes] if notes else [])) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="realesr-animevideov3-x2,realesr-animevideov3-x3,realesr-animevideov3-x4")
    parser.add_argument("--targets", default="onnx,openvino")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--artifacts", type=Path, default=Path("/tmp/edgephoto-realesrgan"))
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--render", type=Path)
    args = parser.parse_args()
    from edgephoto.manifest import write_json_atomic
    from edgephoto.runtime.devices import cpu_facts

    if args.render:
        args.render.with_suffix(".md").write_text(markdown(json.loads(args.render.read_text())))
        return
    rows = []
    if args.out.exists():  # keep other models' rows: one model per invocation is fine
        rows = [r for r in json.loads(args.out.read_text())["rows"] if r["model"] not in args.models.split(",")]
    rows += [measure(m, args.targets.split(","), args.artifacts, args.runs) for m in args.models.split(",")]
    data = {"date": datetime.date.today().isoformat(), "cpu": cpu_facts().get("model", "cpu"),
            "runs": args.runs, "threads": 1, "rows": rows,
            "notes": ["Real-ESRGAN is GAN-trained for perceptual quality, not PSNR: a PSNR-Y below bicubic is "
                      "expected and is not a conversion error (parity vs ncnn is in each artifact's manifest)."]}
    write_json_atomic(args.out, data)
    args.out.with_suffix(".md").write_text(markdown(data))
    log(markdown(data))


if __name__ == "__main__":
    main()
