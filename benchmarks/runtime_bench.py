"""Runtime claims, measured on real photos with real zoo artifacts (JSON first, Markdown from it).

overhead     : task time vs the time spent inside backend.run (a timing proxy around the loaded
               backend), medians of interleaved repeats, 1 thread; the same tasks on the null
               backend give the pipeline's own cost with no engine at all.
sr           : Set5 PSNR-Y through the tiled upscale task (papers' protocol, data/README.md).
segmentation : selfie on the 150 portraits (mask > 0.5, IoU and boundary F at 3 px), bilinear vs
               guided-filter refinement; radius/eps tuned on photos 1-75, reported on 76-150.
depth        : FastDepth on Middlebury motorcycle (Spearman, delta1) for several `detail` values.

    python benchmarks/runtime_bench.py [--sections overhead,sr,segmentation,depth] [--repeats 5]

Artifacts come from --artifacts DIR (<DIR>/<model>/onnx-fp32, as `edgephoto convert` lays them
out) and are converted there from the zoo when missing.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SAMPLES = sorted((ROOT / "src" / "edgephoto" / "data").glob("*.jpg"))
PORTRAITS = DATA / "portraits"
RESULTS = ROOT / "benchmarks" / "results"
PEERS = {  # data/README.md: OpenCV dnn_superres / UpscalerJS on Set5, MediaPipe on the portraits
    "fsrcnn-x2": 34.85, "fsrcnn-x3": 30.59, "fsrcnn-x4": 28.40,
    "esrgan-slim-x4": 28.60, "esrgan-medium-x4": 28.74, "esrgan-thick-x4": 29.95,
    "selfie_iou": 0.917, "selfie_boundary_f": 0.737,
}


class TimedBackend:
    """Proxy around a loaded Backend adding up wall and process-CPU time spent inside run().

    CPU time is the robust one on a shared machine (1 engine thread runs on the caller's)."""

    def __init__(self, backend: Any) -> None:
        self.backend, self.seconds, self.cpu, self.calls = backend, 0.0, 0.0, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)

    def run(self, feeds: Any) -> dict[str, np.ndarray]:
        started, cpu = time.perf_counter(), time.process_time()
        try:
            return self.backend.run(feeds)
        finally:
            self.seconds += time.perf_counter() - started
            self.cpu += time.process_time() - cpu
            self.calls += 1


def artifact(root: Path, model: str) -> Path:
    """<root>/<model>/onnx-fp32, converted from the zoo on first use."""
    path = root / model / "onnx-fp32"
    if (path / "manifest.json").is_file():
        return path
    from edgephoto.convert.api import convert_model
    from edgephoto.convert.targets import TARGETS
    from edgephoto.zoo import get_model
    from edgephoto.zoo.weights import resolve

    spec = get_model(model)
    root.mkdir(parents=True, exist_ok=True)
    (result,) = convert_model(spec, resolve(spec) / spec.files[0].path, [TARGETS.get("onnx")], root)
    if not result.ok:
        raise SystemExit(f"converting {model} failed: {result.error}")
    return Path(str(result.path))


def load(root: Path, model: str, backend: str | None = None) -> tuple[Any, dict[str, Any]]:
    from edgephoto.runtime.artifact import load_artifact

    options = {"threads": 1} if backend is None else {}
    return load_artifact(artifact(root, model), backend=backend, **options)


def read_rgb(path: Path) -> np.ndarray:
    from edgephoto.runtime.image_io import read_photo

    return read_photo(path).rgb


# ---- overhead ---------------------------------------------------------------------------------

def bench_overhead(root: Path, repeats: int) -> dict[str, Any]:
    from edgephoto.runtime.tasks import TASKS

    portraits = [PORTRAITS / "images" / f"{i}.jpg" for i in (78, 100, 101, 105)]
    cases = [("fsrcnn-x2", "upscale", {}, SAMPLES), ("esrgan-slim-x4", "upscale", {}, SAMPLES[1:2]),
             ("selfie", "segmentation", {"refine": False}, SAMPLES + portraits),
             ("selfie", "segmentation", {"refine": True}, SAMPLES + portraits)]
    photos = {p: read_rgb(p) for case in cases for p in case[3]}
    loaded = {(m, b): load(root, m, b) for m, _, _, _ in cases for b in (None, "null")}
    samples: dict[tuple[int, str, str], list[tuple[float, float, int, float, float]]] = {}
    for _ in range(repeats):  # interleaved: every case once per round
        for index, (model, task, options, paths) in enumerate(cases):
            for which in (None, "null"):
                backend, manifest = loaded[(model, which)]
                for path in paths:
                    timed = TimedBackend(backend)
                    started, cpu = time.perf_counter(), time.process_time()
                    TASKS.get(task).run(timed, manifest, photos[path], **options)
                    total, total_cpu = time.perf_counter() - started, time.process_time() - cpu
                    key = (index, str(which), path.name)
                    samples.setdefault(key, []).append((total, timed.seconds, timed.calls, total_cpu, timed.cpu))
    rows = []
    for index, (model, task, options, paths) in enumerate(cases):
        for path in paths:
            real, null = samples[(index, "None", path.name)], samples[(index, "null", path.name)]
            total, engine = (statistics.median(s[k] for s in real) for k in (0, 1))
            total_cpu, engine_cpu = (statistics.median(s[k] for s in real) for k in (3, 4))
            rows.append({
                "model": model, "task": task, "options": options, "photo": path.name,
                "size": list(photos[path].shape[:2]), "engine_calls": real[0][2],
                "total_ms": round(total * 1e3, 2), "engine_ms": round(engine * 1e3, 2),
                "ratio": round(total / engine, 3),
                "total_cpu_ms": round(total_cpu * 1e3, 2), "engine_cpu_ms": round(engine_cpu * 1e3, 2),
                "ratio_cpu": round(total_cpu / max(engine_cpu, 1e-9), 3),
                "ratio_cpu_median_of_repeats": round(statistics.median(s[3] / max(s[4], 1e-9) for s in real), 3),
                "null_total_ms": round(statistics.median(s[0] for s in null) * 1e3, 2),
                "null_total_cpu_ms": round(statistics.median(s[3] - s[4] for s in null) * 1e3, 2),
            })
    backend = loaded[(cases[0][0], None)][0].describe()
    return {"repeats": repeats, "backend": backend, "rows": rows}


# ---- super-resolution -------------------------------------------------------------------------

def bench_sr(root: Path, models: list[str]) -> dict[str, Any]:
    from edgephoto.metrics import psnr_y, sr_pair
    from edgephoto.runtime.tasks.upscale import upscale

    rows = []
    for model in models:
        backend, manifest = load(root, model)
        scale = int(manifest["scale"])
        per_image = {}
        for path in sorted((DATA / "sr" / "set5").glob("*.png")):
            hr, lr = sr_pair(np.asarray(Image.open(path).convert("RGB")), scale)
            out = upscale(backend, manifest, lr)
            assert out is not None
            per_image[path.stem] = round(psnr_y(hr, out, scale), 3)
        mean = float(np.mean(list(per_image.values())))
        rows.append({"model": model, "scale": scale, "psnr_y": round(mean, 3), "peer": PEERS[model],
                     "delta_db": round(mean - PEERS[model], 3), "per_image": per_image})
    return {"protocol": "Set5, crop to multiple of scale, PIL bicubic LR, tiled runtime upscale, "
                        "PSNR on BT.601 Y with `scale` px shaved", "rows": rows}


# ---- segmentation -----------------------------------------------------------------------------

def bench_segmentation(root: Path, radii: tuple[float, ...], epsilons: tuple[float, ...]) -> dict[str, Any]:
    from edgephoto.metrics import boundary_f, iou
    from edgephoto.runtime.refine import default_radius
    from edgephoto.runtime.tasks.segmentation import low_res_mask, upsample_mask

    backend, manifest = load(root, "selfie")
    photos = []
    for i in range(1, 151):
        rgb = read_rgb(PORTRAITS / "images" / f"{i}.jpg")
        truth = Image.open(PORTRAITS / "masks" / f"{i}.png").convert("L")
        truth = np.asarray(truth.resize((rgb.shape[1], rgb.shape[0]), Image.Resampling.NEAREST)) > 127
        photos.append((i, rgb, truth, low_res_mask(backend, manifest, rgb)))

    def score(ids: range, **options: Any) -> dict[str, float]:
        ious, bfs, seconds = [], [], []
        for i, rgb, truth, low in photos:
            if i not in ids:
                continue
            radius = options.get("radius_px")
            if radius is not None:  # radius in low-res mask px -> photo px
                radius = max(1, round(radius * default_radius(rgb.shape[:2], low.shape[:2])))
            started = time.perf_counter()
            mask = upsample_mask(rgb, low, refine=options["refine"], radius=radius,
                                 eps=options.get("eps", 1e-4)) > 0.5
            seconds.append(time.perf_counter() - started)
            ious.append(iou(mask, truth))
            bfs.append(boundary_f(mask, truth, 3))
        return {"iou": round(float(np.mean(ious)), 4), "iou_median": round(float(np.median(ious)), 4),
                "boundary_f": round(float(np.mean(bfs)), 4),
                "refine_ms_median": round(float(np.median(seconds)) * 1e3, 2), "photos": len(ious)}

    tune, held_out, everything = range(1, 76), range(76, 151), range(1, 151)
    grid = [{"refine": True, "radius_px": r, "eps": e} for r in radii for e in epsilons]
    tuned = [{**g, **score(tune, **g)} for g in grid]
    best = max(tuned, key=lambda row: row["iou"] + row["boundary_f"])
    chosen = {k: best[k] for k in ("refine", "radius_px", "eps")}
    configs = {"bilinear": {"refine": False}, "guided_default": {"refine": True}, "guided_tuned": chosen}
    return {
        "model": "selfie", "protocol": "mask > 0.5 vs ground truth resized nearest; boundary F at 3 px",
        "peer": {"iou": PEERS["selfie_iou"], "boundary_f": PEERS["selfie_boundary_f"],
                 "what": "MediaPipe 0.10.21 selfie pipeline, all 150 photos"},
        "tuning_1_75": tuned, "chosen": chosen,
        "held_out_76_150": {name: score(held_out, **c) for name, c in configs.items()},
        "all_150": {name: score(everything, **c) for name, c in configs.items()},
    }


# ---- depth ------------------------------------------------------------------------------------

def bench_depth(root: Path, details: tuple[float, ...]) -> dict[str, Any]:
    import skimage

    from edgephoto.metrics import depth_metrics, spearman
    from edgephoto.runtime.tasks.depth import estimate_depth

    data = Path(skimage.__file__).parent / "data"
    rgb = np.asarray(Image.open(data / "motorcycle_left.png").convert("RGB"))
    disparity = np.load(data / "motorcycle_disp.npz")["arr_0"]
    valid = np.isfinite(disparity) & (disparity > 0)
    truth = np.where(valid, 1.0 / np.where(valid, disparity, 1.0), 0.0)  # depth up to a scale
    backend, manifest = load(root, "fastdepth")
    rows = []
    for detail in (None, *details):
        options = {} if detail is None else {"detail": detail}
        started = time.perf_counter()
        result = estimate_depth(backend, manifest, rgb, **options)
        seconds = time.perf_counter() - started
        metrics = depth_metrics(result.depth, truth, valid)
        rows.append({"detail": "default" if detail is None else detail, "tiles": len(result.tiles),
                     "seconds": round(seconds, 3),
                     "spearman_vs_disparity": round(spearman(-result.depth[valid], disparity[valid]), 4),
                     **{k: round(float(v), 4) for k, v in metrics.items()}})
    return {"model": "fastdepth", "photo": "motorcycle_left", "size": list(rgb.shape[:2]), "rows": rows}


# ---- report -----------------------------------------------------------------------------------

def render(report: dict[str, Any]) -> str:
    lines = ["# Runtime benchmark", "", f"Machine: {report['machine']}; numbers from `runtime_bench.json`.", ""]
    if "overhead" in report:
        o = report["overhead"]
        lines += [f"## Overhead (median of {o['repeats']} interleaved repeats, 1 thread)", "",
                  "| model | task | options | photo | size | calls | total ms | engine ms | ratio (wall) "
                  "| total CPU ms | engine CPU ms | ratio (CPU) | null backend CPU ms |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        lines += [f"| {r['model']} | {r['task']} | {r['options'] or '-'} | {r['photo']} | {r['size'][1]}x{r['size'][0]} "
                  f"| {r['engine_calls']} | {r['total_ms']} | {r['engine_ms']} | {r['ratio']} | {r['total_cpu_ms']} "
                  f"| {r['engine_cpu_ms']} | {r['ratio_cpu']} | {r['null_total_cpu_ms']} |" for r in o["rows"]]
        lines.append("")
    if "sr" in report:
        lines += ["## Set5 PSNR-Y through the tiled runtime", "", "| model | ours dB | peer dB | delta |",
                  "|---|---|---|---|"]
        lines += [f"| {r['model']} | {r['psnr_y']} | {r['peer']} | {r['delta_db']:+.3f} |" for r in report["sr"]["rows"]]
        lines.append("")
    if "segmentation" in report:
        s = report["segmentation"]
        lines += ["## Selfie segmentation, 150 portraits", "",
                  f"Peer (MediaPipe): IoU {s['peer']['iou']}, boundary F {s['peer']['boundary_f']}. "
                  f"Tuned on 1-75: {s['chosen']}.", "",
                  "| photos | refinement | IoU | median IoU | boundary F (3 px) | refine ms (median) |",
                  "|---|---|---|---|---|---|"]
        for split in ("held_out_76_150", "all_150"):
            lines += [f"| {split} | {name} | {v['iou']} | {v['iou_median']} | {v['boundary_f']} | {v['refine_ms_median']} |"
                      for name, v in s[split].items()]
        lines.append("")
    if "depth" in report:
        lines += ["## FastDepth on motorcycle", "", "| detail | tiles | Spearman | delta1 | AbsRel | s |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {r['detail']} | {r['tiles']} | {r['spearman_vs_disparity']} | {r.get('delta1')} "
                  f"| {r.get('absrel')} | {r['seconds']} |" for r in report["depth"]["rows"]]
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sections", default="overhead,sr,segmentation,depth")
    parser.add_argument("--artifacts", type=Path, default=Path(os.environ.get("EDGEPHOTO_BENCH_ARTIFACTS", "/tmp/edgephoto-bench-artifacts")))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    sections: dict[str, Callable[[], dict[str, Any]]] = {
        "overhead": lambda: bench_overhead(args.artifacts, args.repeats),
        "sr": lambda: bench_sr(args.artifacts, ["fsrcnn-x2", "fsrcnn-x3", "fsrcnn-x4", "esrgan-slim-x4",
                                                "esrgan-medium-x4", "esrgan-thick-x4"]),
        "segmentation": lambda: bench_segmentation(args.artifacts, (0.5, 1.0, 2.0), (1e-5, 1e-4, 1e-3)),
        "depth": lambda: bench_depth(args.artifacts, (1.0, 1.5, 2.0, 3.0)),
    }
    json_path = args.out / "runtime_bench.json"
    report = json.loads(json_path.read_text()) if json_path.is_file() else {}
    report["machine"] = f"{platform.machine()}, Python {platform.python_version()}, load {os.getloadavg()[0]:.1f}"
    for name in args.sections.split(","):
        started = time.perf_counter()
        report[name] = sections[name]()
        report[name]["seconds"] = round(time.perf_counter() - started, 1)
        args.out.mkdir(parents=True, exist_ok=True)
        for path, text in ((json_path, json.dumps(report, indent=2) + "\n"),
                           (args.out / "runtime_bench.md", render(report) + "\n")):
            tmp = path.with_suffix(".tmp")
            tmp.write_text(text)
            os.replace(tmp, path)
        print(f"{name}: done in {report[name]['seconds']} s", flush=True)


if __name__ == "__main__":
    main()
