"""PReLU fusion: the same FSRCNN weights converted with and without the fusion passes, measured.

build : fsrcnn-x2/x4 -> onnx, tflite, openvino twice: fused (the default) and unfused
        (convert_model(..., options={"fuse_prelu": False}), an option only this script uses);
        fsrcnn-x3 fused for the PSNR check. The op lists of every artifact are recorded.
bench : `edgephoto bench`'s runner over all unfused and fused artifacts at once (1 thread,
        cold load per child, interleaved runs, 128² tiles): medians and fused/unfused ratios.
set5  : like-for-like with OpenCV dnn_superres (13.2 ms mean per Set5 image at x2): the runtime
        upscale task (tiling, luma/chroma) on the Set5 LR images, 1 thread, every artifact once
        per round, `--repeats` rounds; per image the median, then the mean over the 5 images.
        PSNR-Y of every artifact on the papers' protocol (must stay 34.87 / 30.59 / 28.41).

    python benchmarks/prelu_bench.py [--out /tmp/edgephoto-prelu] [--runs 100] [--repeats 9]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SET5 = ROOT.parent / "shared" / "data" / "sr" / "set5"
RESULTS = ROOT / "benchmarks" / "results"
TARGETS = ("onnx", "tflite", "openvino")
TIMED = ("fsrcnn-x2", "fsrcnn-x4")
OPENCV = {"fsrcnn-x2": {"ms_mean_per_image": 13.2, "psnr_y": 34.85},  # data/README.md
          "fsrcnn-x4": {"ms_mean_per_image": 3.2, "psnr_y": 28.40}}
EXPECTED_PSNR = {"fsrcnn-x2": 34.87, "fsrcnn-x3": 30.59, "fsrcnn-x4": 28.41}


def build(out: Path) -> dict[str, dict[str, Path]]:
    """{variant: {"<model>/<target>": artifact dir}}, converted once (kept in `out`)."""
    from edgephoto.convert.api import convert_model
    from edgephoto.convert.targets import TARGETS as TABLE
    from edgephoto.zoo import get_model
    from edgephoto.zoo.weights import resolve

    plan = [("fused", m, {}) for m in (*TIMED, "fsrcnn-x3")] + [("unfused", m, {"fuse_prelu": False}) for m in TIMED]
    found: dict[str, dict[str, Path]] = {"fused": {}, "unfused": {}}
    for variant, model, options in plan:
        root = out / variant
        dirs = {t: root / model / f"{t}-fp32" for t in TARGETS}
        missing = [t for t, d in dirs.items() if not (d / "manifest.json").is_file()]
        if missing:
            spec = get_model(model)
            results = convert_model(spec, resolve(spec) / spec.files[0].path, [TABLE.get(t) for t in missing],
                                    root, options=options)
            failed = {r.target: r.error for r in results if not r.ok}
            if failed:
                raise SystemExit(f"{variant} {model}: conversion failed: {failed}")
        found[variant].update({f"{model}/{t}": d for t, d in dirs.items()})
    return found


def op_counts(artifact: Path, target: str) -> dict[str, int]:
    if target == "onnx":
        import onnx

        return dict(Counter(n.op_type for n in onnx.load(next(artifact.glob("*.onnx"))).graph.node))
    if target == "tflite":
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=str(next(artifact.glob("*.tflite"))))
        return dict(Counter(op["op_name"] for op in interpreter._get_ops_details()))
    import openvino as ov

    model = ov.Core().read_model(str(next(artifact.glob("*.xml"))))
    return dict(Counter(op.get_type_name() for op in model.get_ops() if op.get_type_name() != "Constant"))


def bench_tiles(found: dict[str, dict[str, Path]], runs: int) -> dict[str, Any]:
    from edgephoto.bench.runner import BenchSettings, benchmark

    keys = [f"{m}/{t}" for m in TIMED for t in TARGETS]
    dirs = [found[v][k] for k in keys for v in ("unfused", "fused")]
    data = benchmark(dirs, BenchSettings(threads=1, warmup=10, runs=runs))
    by_dir = {r["artifact"]: r for r in data["results"]}
    rows = []
    for key in keys:
        pair = {v: by_dir[str(found[v][key])] for v in ("unfused", "fused")}
        wall = {v: pair[v]["latency_ms"]["median"] for v in pair}
        cpu = {v: pair[v]["cpu_ms"]["median"] for v in pair}
        rows.append({"model": key.split("/")[0], "target": key.split("/")[1],
                     "backend": pair["fused"]["backend"].get("backend"),
                     "unfused_median_ms": round(wall["unfused"], 3), "fused_median_ms": round(wall["fused"], 3),
                     "ratio_fused_over_unfused": round(wall["fused"] / wall["unfused"], 3),
                     "unfused_cpu_median_ms": round(cpu["unfused"], 3), "fused_cpu_median_ms": round(cpu["fused"], 3),
                     "cpu_ratio_fused_over_unfused": round(cpu["fused"] / cpu["unfused"], 3)})
    return {"settings": data["settings"], "input": data["results"][0]["feed"],
            "load_average": data["machine"]["load_average"], "rows": rows}


class TimedBackend:
    """Adds up the time spent inside backend.run (the engine share of the task's time)."""

    def __init__(self, backend: Any) -> None:
        self.backend, self.seconds, self.calls = backend, 0.0, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)

    def run(self, feeds: Any) -> dict[str, np.ndarray]:
        started = time.perf_counter()
        try:
            return self.backend.run(feeds)
        finally:
            self.seconds += time.perf_counter() - started
            self.calls += 1


def set5_pairs(scale: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    from edgephoto.metrics import sr_pair

    return [(path.stem, *sr_pair(np.asarray(Image.open(path).convert("RGB")), scale))
            for path in sorted(SET5.glob("*.png"))]


def bench_set5(found: dict[str, dict[str, Path]], repeats: int) -> dict[str, Any]:
    from edgephoto.metrics import psnr_y
    from edgephoto.runtime.artifact import load_artifact
    from edgephoto.runtime.tasks.upscale import upscale

    cases = [(v, k) for k in found["fused"] for v in ("unfused", "fused") if k in found[v]]
    loaded = {case: load_artifact(found[case[0]][case[1]], threads=1) for case in cases}
    images = {s: set5_pairs(s) for s in (2, 3, 4)}
    psnr: dict[tuple[str, str], float] = {}
    times: dict[tuple[str, str, str], list[tuple[float, float, float]]] = {}
    calls: dict[str, int] = {}
    for round_ in range(repeats):  # interleaved: every artifact once per round, order rotating
        for case in cases[round_ % len(cases):] + cases[:round_ % len(cases)]:
            backend, manifest = loaded[case]
            scores = []
            for name, hr, lr in images[int(manifest["scale"])]:
                timed = TimedBackend(backend)
                started, cpu = time.perf_counter(), time.process_time()
                out = upscale(timed, manifest, lr)
                times.setdefault((*case, name), []).append(
                    (time.perf_counter() - started, timed.seconds, time.process_time() - cpu))
                calls[name] = timed.calls
                scores.append(psnr_y(hr, out, int(manifest["scale"])))
            psnr[case] = float(np.mean(scores))
    rows = []
    for variant, key in cases:
        model, target = key.split("/")
        names = [n for n, _, _ in images[int(loaded[(variant, key)][1]["scale"])]]
        task = [statistics.median(t[0] for t in times[(variant, key, n)]) for n in names]
        engine = [statistics.median(t[1] for t in times[(variant, key, n)]) for n in names]
        cpu = [statistics.median(t[2] for t in times[(variant, key, n)]) for n in names]
        rows.append({"model": model, "target": target, "variant": variant,
                     "psnr_y": round(psnr[(variant, key)], 3), "expected_psnr_y": EXPECTED_PSNR[model],
                     "task_ms_mean_per_image": round(1e3 * float(np.mean(task)), 2),
                     "engine_ms_mean_per_image": round(1e3 * float(np.mean(engine)), 2),
                     "task_cpu_ms_mean_per_image": round(1e3 * float(np.mean(cpu)), 2),
                     "tiles_per_image": {n: calls[n] for n in names},
                     "lr_pixels_per_image": {n: int(lr.shape[0] * lr.shape[1]) for n, _, lr
                                             in images[int(loaded[(variant, key)][1]["scale"])]},
                     "task_ms_per_image": {n: round(1e3 * t, 2) for n, t in zip(names, task, strict=True)},
                     "opencv_ms_mean_per_image": OPENCV.get(model, {}).get("ms_mean_per_image")})
    for row in rows:
        other = next((r for r in rows if r["model"] == row["model"] and r["target"] == row["target"]
                      and r["variant"] == "unfused"), None)
        if row["variant"] == "fused" and other:
            row["task_ratio_fused_over_unfused"] = round(row["task_ms_mean_per_image"] / other["task_ms_mean_per_image"], 3)
            row["task_cpu_ratio_fused_over_unfused"] = round(row["task_cpu_ms_mean_per_image"]
                                                             / other["task_cpu_ms_mean_per_image"], 3)
            row["engine_ratio_fused_over_unfused"] = round(row["engine_ms_mean_per_image"]
                                                           / other["engine_ms_mean_per_image"], 3)
    return {"repeats": repeats, "protocol": "Set5 LR by PIL bicubic; runtime upscale task (128² tiles, "
            "overlap per manifest), 1 engine thread; per image the median over rounds, then the mean",
            "rows": rows}


def markdown(data: dict[str, Any]) -> str:
    lines = ["# PReLU fusion on FSRCNN (same weights, with and without the fusion passes)", "",
             f"Measured {data['created']}, 1 thread; load average before/after "
             f"{data['tiles']['load_average']}. JSON: prelu_bench.json.", "",
             "## Ops per artifact", "", "| artifact | unfused | fused |", "|---|---|---|"]
    for key, ops in data["ops"]["fused"].items():
        before = data["ops"]["unfused"].get(key)
        if before:
            lines.append(f"| {key} | {_ops(before)} | {_ops(ops)} |")
    lines += ["", f"## `edgephoto bench` (128² tile, {data['tiles']['settings']['runs']} interleaved runs)", "",
              "| model | target | unfused median ms | fused median ms | fused/unfused | CPU fused/unfused |",
              "|---|---|---|---|---|---|"]
    for r in data["tiles"]["rows"]:
        lines.append(f"| {r['model']} | {r['target']} | {r['unfused_median_ms']} | {r['fused_median_ms']} | "
                     f"{r['ratio_fused_over_unfused']} | {r['cpu_ratio_fused_over_unfused']} |")
    lines += ["", f"## Set5 through the runtime upscale task ({data['set5']['repeats']} rounds)", "",
              "| model | target | variant | PSNR-Y | task ms / image (mean) | engine ms / image | "
              "task CPU ms / image | fused/unfused (task wall / CPU) | OpenCV ms / image |",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in data["set5"]["rows"]:
        lines.append(f"| {r['model']} | {r['target']} | {r['variant']} | {r['psnr_y']} | "
                     f"{r['task_ms_mean_per_image']} | {r['engine_ms_mean_per_image']} | "
                     f"{r['task_cpu_ms_mean_per_image']} | {_ratio(r)} | {r['opencv_ms_mean_per_image'] or ''} |")
    tiles = data["set5"]["rows"][0]
    lines += ["", f"Tiles per Set5 image ({tiles['model']}): {tiles['tiles_per_image']}; "
              f"LR pixels: {tiles['lr_pixels_per_image']}."]
    return "\n".join(lines) + "\n"


def _ratio(row: dict[str, Any]) -> str:
    if "task_ratio_fused_over_unfused" not in row:
        return ""
    return f"{row['task_ratio_fused_over_unfused']} / {row['task_cpu_ratio_fused_over_unfused']}"


def _ops(ops: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(ops.items(), key=lambda kv: -kv[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("/tmp/edgephoto-prelu"), help="artifact directory")
    parser.add_argument("--runs", type=int, default=100, help="timed runs per artifact (128² tiles)")
    parser.add_argument("--repeats", type=int, default=9, help="Set5 rounds")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    found = build(args.out)
    data: dict[str, Any] = {"created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    data["ops"] = {v: {k: op_counts(d, k.split("/")[1]) for k, d in found[v].items()} for v in found}
    data["tiles"] = bench_tiles(found, args.runs)
    data["set5"] = bench_set5(found, args.repeats)
    args.results.mkdir(parents=True, exist_ok=True)
    for name, text in (("prelu_bench.json", json.dumps(data, indent=1)), ("prelu_bench.md", markdown(data))):
        tmp = args.results / f".{name}.tmp"
        tmp.write_text(text)
        os.replace(tmp, args.results / name)
    print(markdown(data))


if __name__ == "__main__":
    main()
