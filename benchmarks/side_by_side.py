"""Issue 11's table in ONE run: edgephoto vs the tools people use, interleaved, one core each.

    nice -n 10 .venv/bin/python benchmarks/side_by_side.py [--rounds 3] [--esrgan-runs 10] [--limit N]

Built on the bench package (no peer code of its own): bench.whole_call for photo -> result rows
with MediaPipe / OpenCV as peers, bench.runner for the ESRGAN 128-px tile rows with TensorFlow
and UpscalerJS (TensorFlow.js wasm under Node) as the peers. Everything is pinned to one core
(sched_setaffinity: the children inherit it) with 1 engine thread. Rows:
  person mask    segment() defaults (backend auto, and each engine) vs MediaPipe 0.10.21 selfie,
                 the shared portraits 1-150; IoU at full size (mask > 0.5) vs the masks
  FSRCNN x2/3/4  upscale() (auto, each engine) vs OpenCV dnn_superres: Set5 LR (bicubic /s of
                 the crop, PSNR-Y vs HR shaved by s), Set14-size (HR 500x333) and Urban100-size
                 (HR 1000x700) LR, i.e. those sizes / s, made from real photos (PSNR vs OpenCV's
                 output); benchmarks/fsrcnn_speed.py covers fixed LR sizes up to 12 MP
  ESRGAN x4      slim and thick, fp32 and int8 artifacts per engine, one 128-px tile, vs
                 TensorFlow fp32 on the source model and (slim) UpscalerJS 1.0, one row each; an int8 the accuracy guard refuses is
                 reported with the guard's message (not bypassed)
Needs: opencv-contrib-python in .venv, the MediaPipe venv (.cache/peer-mediapipe) and the
UpscalerJS npm folder (.cache/peer-upscalerjs; both made as bench/peers.py says), the convert
extra. Writes benchmarks/results/side_by_side.{json,md}.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
PORTRAITS = SHARED / "data" / "portraits"
SET5 = SHARED / "data" / "sr" / "set5"
SAMPLES = REPO / "src" / "edgephoto" / "data"
RESULTS = REPO / "benchmarks" / "results"
ENGINES = ("onnxruntime", "litert", "openvino")
TARGET = {"onnxruntime": "onnx", "litert": "tflite", "openvino": "openvino"}


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def slim(data: dict[str, Any]) -> dict[str, Any]:
    """The bench results without raw samples (per-photo medians and summaries stay)."""
    return {**data, "results": [{k: v for k, v in r.items() if k not in ("samples_ms", "cpu_samples_ms")}
                                for r in data["results"]]}


def calls(task: str, photos: list[Path], model: str, rounds: int, peer: str, keep: Any,
          options: tuple[dict[str, Any], ...] = ({},)) -> dict[str, Any]:
    """whole_call with backend auto and each engine (x each task option set); auto is dropped
    (and said) if it cannot load."""
    from edgephoto.bench.runner import BenchSettings
    from edgephoto.bench.whole_call import benchmark_calls
    from edgephoto.errors import EdgePhotoError

    settings = BenchSettings(threads=1, warmup=2, runs=rounds)
    backends: list[str | None] = [None, *ENGINES]
    try:
        return benchmark_calls(task, photos, [model], settings, backends=backends, peers=[peer], progress=say,
                               keep=keep, options=options)
    except EdgePhotoError as exc:  # a failure of every engine fails the second try as well
        say(f"with backend auto: {exc}; measuring the engines without it")
        data = benchmark_calls(task, photos, [model], settings, backends=list(ENGINES), peers=[peer],
                               progress=say, keep=keep, options=options)
        data["notes"] = [f"{model}: the run with backend auto failed, so it has no auto row: {exc}"]
        return data


def person_mask(rounds: int, limit: int | None) -> dict[str, Any]:
    from edgephoto.metrics import iou

    ids = list(range(1, 151))[: limit or 150]
    photos = [PORTRAITS / "images" / f"{i}.jpg" for i in ids]
    scores: dict[str, list[float]] = {}

    def keep(label: str, k: int, path: Path) -> None:
        mask = np.load(path)
        truth = Image.open(PORTRAITS / "masks" / f"{ids[k]}.png").convert("L")
        truth_mask = np.asarray(truth.resize((mask.shape[1], mask.shape[0]), Image.Resampling.NEAREST)) > 127
        scores.setdefault(label, []).append(iou(mask > 0.5, truth_mask))

    # segment() defaults (zoom on: a second pass for a small person) and its single pass, which
    # does MediaPipe's work (one model run per photo)
    data = calls("segmentation", photos, "selfie", rounds, "mediapipe", keep, options=({}, {"zoom": False}))
    data["iou"] = {label: float(np.mean(v)) for label, v in scores.items()}
    return data


def sr_images(scale: int, folder: Path) -> dict[str, Any]:
    """LR images written as PNG (name -> group, HR or None), the fsrcnn_speed protocol."""
    from edgephoto.metrics import sr_pair

    folder.mkdir(parents=True, exist_ok=True)
    info: dict[str, Any] = {}
    for path in sorted(SET5.glob("*.png")):
        hr, lr = sr_pair(np.asarray(Image.open(path).convert("RGB")), scale)
        Image.fromarray(lr).save(folder / f"set5-{path.stem}.png")
        info[f"set5-{path.stem}"] = ("set5", hr)
    for name, source, (w, h) in (("set14-size", SAMPLES / "coffee.jpg", (500, 333)),
                                 ("urban100-size", PORTRAITS / "images" / "79.jpg", (1000, 700))):
        lr = Image.open(source).convert("RGB").resize((w // scale, h // scale), Image.Resampling.BICUBIC)
        lr.save(folder / f"{name}.png")
        info[name] = (name, None)
    return info


def fsrcnn(scale: int, rounds: int, work: Path) -> dict[str, Any]:
    from edgephoto.bench.whole_call import photo_list
    from edgephoto.metrics import psnr, psnr_y

    info = sr_images(scale, work / f"x{scale}")
    photos = photo_list(work / f"x{scale}")
    outputs: dict[tuple[str, int], np.ndarray] = {}

    def keep(label: str, k: int, path: Path) -> None:
        outputs[(label, k)] = np.load(path)

    data = calls("upscale", photos, f"fsrcnn-x{scale}", rounds, "opencv", keep)
    quality: dict[str, dict[str, list[float]]] = {}
    peer = next(r["label"] for r in data["results"] if r.get("peer"))
    for r in data["results"]:
        for k, photo in enumerate(photos):
            group, hr = info[photo.stem]
            out = outputs[(r["label"], k)]
            value = psnr_y(hr, out, scale) if hr is not None else psnr(outputs[(peer, k)], out)
            quality.setdefault(r["label"], {}).setdefault(group, []).append(float(value))
    data["psnr"] = {label: {g: float(np.mean(v)) for g, v in groups.items()} for label, groups in quality.items()}
    data["groups"] = {photo.stem: info[photo.stem][0] for photo in photos}
    return data


def esrgan(model: str, runs: int) -> dict[str, Any]:
    """fp32 + int8 artifacts per engine (built or reused in the cache) vs TensorFlow fp32."""
    from edgephoto.api import zoo_artifact
    from edgephoto.bench.runner import BenchSettings, benchmark
    from edgephoto.errors import AccuracyDropError
    from edgephoto.quantize.directory import quantize_directory

    artifacts: list[Path] = []
    refused: dict[str, str] = {}
    for engine in ENGINES:
        fp32 = zoo_artifact(model, engine, progress=say)
        artifacts.append(fp32)
        int8 = fp32.parent / f"{TARGET[engine]}-int8"
        if (int8 / "manifest.json").is_file():
            artifacts.append(int8)
            continue
        try:
            artifacts.append(Path(quantize_directory(fp32, "int8", progress=say)[0]))
        except AccuracyDropError as exc:  # the guard's refusal is a result, reported as it is
            refused[f"{TARGET[engine]}-int8"] = str(exc)
            say(f"{model} {engine} int8 refused: {exc}")
    data = benchmark(artifacts, BenchSettings(threads=1, warmup=2, runs=runs, peak=False), progress=say,
                     peers=["tensorflow", *(["upscalerjs"] if model.startswith("esrgan-slim") else [])])
    data["refused"] = refused
    return data


# ---- the table ---------------------------------------------------------------------------------


def _ours(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in data["results"] if not r.get("peer")]


def _peer(data: dict[str, Any]) -> dict[str, Any] | None:
    return next((r for r in data["results"] if r.get("peer")), None)


def mask_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    peer = _peer(data)
    assert peer is not None
    def per_photo(r: dict[str, Any], key: str = "per_photo_ms") -> float:
        return float(np.median(list(r[key].values())))

    base, base_cpu = per_photo(peer), per_photo(peer, "per_photo_cpu_ms")
    return [{"work": "person mask, portraits 1-150, segment() defaults (zoom) and zoom=False (single pass)", "group": "portraits",
             "peer": peer["label"], "peer_ms": base, "peer_cpu_ms": base_cpu,
             "peer_quality": {"iou": data["iou"].get(peer["label"])},
             "ours": {r["label"]: {"ms": per_photo(r), "cpu_ms": per_photo(r, "per_photo_cpu_ms"),
                                   "speedup_vs_peer": base / per_photo(r),
                                   "cpu_speedup_vs_peer": base_cpu / per_photo(r, "per_photo_cpu_ms"),
                                   "iou": data["iou"].get(r["label"]),
                                   "backend": r["backend"].get("backend"), "stages_ms": r.get("stages_ms")}
                      for r in _ours(data)}}]


def fsrcnn_rows(scale: int, data: dict[str, Any]) -> list[dict[str, Any]]:
    peer = _peer(data)
    assert peer is not None
    photos = [Path(p).stem for p in data["settings"]["photos"]]
    out = []
    for group in ("set5", "set14-size", "urban100-size"):
        index = [str(k) for k, stem in enumerate(photos) if data["groups"][stem] == group]

        def ms(r: dict[str, Any], index: list[str] = index, key: str = "per_photo_ms") -> float:
            return float(np.mean([r[key][k] for k in index]))  # Set5: mean of per-image medians

        base, base_cpu = ms(peer), ms(peer, key="per_photo_cpu_ms")
        out.append({"work": f"FSRCNN x{scale}", "group": group, "images": len(index), "peer": peer["label"],
                    "peer_ms": base, "peer_cpu_ms": base_cpu,
                    "peer_quality": {"psnr": data["psnr"][peer["label"]][group]} if group == "set5" else {},
                    "ours": {r["label"]: {"ms": ms(r), "cpu_ms": ms(r, key="per_photo_cpu_ms"),
                                          "speedup_vs_peer": base / ms(r),
                                          "cpu_speedup_vs_peer": base_cpu / ms(r, key="per_photo_cpu_ms"),
                                          "psnr": data["psnr"][r["label"]][group],
                                          "backend": r["backend"].get("backend"), "stages_ms": r.get("stages_ms")}
                             for r in _ours(data)}})
    return out


def esrgan_rows(model: str, data: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per peer measured (TensorFlow, UpscalerJS under Node), each against the same runs."""
    rows = []
    for peer in (r for r in data["results"] if r.get("peer")):
        ours = {r["label"]: {"ms": r["latency_ms"]["median"], "cpu_ms": r["cpu_ms"]["median"],
                             "speedup_vs_peer": r["vs_peers"][peer["label"]]["speedup_median"],
                             "cpu_speedup_vs_peer": peer["cpu_ms"]["median"] / r["cpu_ms"]["median"],
                             "accuracy_drop": r["quality"].get("accuracy_drop"),
                             "accuracy_unit": r["quality"].get("accuracy_unit")} for r in _ours(data)}
        for name, why in data.get("refused", {}).items():
            ours[f"{model} {name}"] = {"refused": why}
        rows.append({"work": f"{model}, one 128-px tile", "group": "tile 128", "peer": peer["label"],
                     "peer_ms": peer["latency_ms"]["median"], "peer_cpu_ms": peer["cpu_ms"]["median"],
                     "peer_quality": {}, "ours": ours})
    assert rows, f"no peer measured for {model}"
    return rows


def _cell(label: str, o: dict[str, Any]) -> str:
    if "refused" in o:
        return f"{label}: refused by the accuracy guard ({o['refused'][:160]})"
    quality = next((f"{k} {o[k]:.4f}" if k == "iou" else f"{k} {o[k]:.2f}" for k in ("iou", "psnr")
                    if o.get(k) is not None), None)
    if quality is None and o.get("accuracy_drop") is not None:
        quality = f"drop {o['accuracy_drop']:.3f} {o.get('accuracy_unit') or ''}".strip()
    return (f"{label}: {o['cpu_ms']:.2f} CPU ms, **{o['cpu_speedup_vs_peer']:.2f}x**; wall {o['ms']:.2f} ms, "
            f"{o['speedup_vs_peer']:.2f}x" + (f" ({quality})" if quality else ""))


def markdown(report: dict[str, Any]) -> str:
    lines = ["# edgephoto vs the tools people use: one run, interleaved, one core, 1 thread", "",
             f"{report['created']}; {report['machine']}; {report['seconds']:.0f} s. {report['protocol']}", "",
             "Ratio = peer time / edgephoto time (> 1: edgephoto faster). CPU ms (the process's own CPU "
             "time: what the call cost its core) lead, because this shared machine was loaded; wall ms follow. "
             "Whole-call rows: median per photo over the portraits, mean of the per-image medians for Set5; "
             "tile rows: median per run. PSNR: Set5 PSNR-Y vs HR; the other sizes have no HR, so "
             "edgephoto's PSNR is against OpenCV's output.", "",
             "| work | images | peer | peer CPU ms / wall ms (quality) | edgephoto: CPU ms, speedup vs peer; wall (quality) |",
             "|---|---|---|---|---|"]
    for row in report["rows"]:
        pq = ", ".join(f"{k} {v:.4f}" if k == "iou" else f"{k} {v:.2f}" for k, v in row["peer_quality"].items()
                       if v is not None)
        cells = "<br>".join(_cell(label, o) for label, o in row["ours"].items())
        lines.append(f"| {row['work']} | {row['group']} | {row['peer']} | {row['peer_cpu_ms']:.2f} / {row['peer_ms']:.2f}"
                     f"{f' ({pq})' if pq else ''} | {cells} |")
    lines += ["", "## Stages of the whole calls (median ms)", ""]
    for row in report["rows"]:
        for label, o in row["ours"].items():
            if o.get("stages_ms") and row["group"] in ("portraits", "set5"):
                lines.append(f"- {row['work']} {row['group']}, {label}: " +
                             ", ".join(f"{k} {v:.2f}" for k, v in o["stages_ms"].items()))
    lines += ["", "## Notes", "", *(f"- {n}" for n in report["notes"])]
    return "\n".join(lines) + "\n"


def main() -> None:
    from edgephoto.manifest import write_json_atomic
    from edgephoto.runtime.image_io import write_bytes_atomic

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="whole-call rounds over the photos")
    parser.add_argument("--esrgan-runs", type=int, default=10, help="timed tile runs per ESRGAN contender")
    parser.add_argument("--limit", type=int, default=None, help="first N portraits (default all 150)")
    parser.add_argument("--parts", default="mask,fsrcnn,esrgan")
    parser.add_argument("--cpu", type=int, default=0, help="the one core everything is pinned to")
    parser.add_argument("--out", type=Path, default=RESULTS / "side_by_side")
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.cpu})
    started, load_start = time.perf_counter(), os.getloadavg()
    parts = args.parts.split(",")
    runs: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="side-by-side-") as scratch:
        if "mask" in parts:
            runs["person_mask"] = person_mask(args.rounds, args.limit)
            rows += mask_rows(runs["person_mask"])
        if "fsrcnn" in parts:
            for scale in (2, 3, 4):
                runs[f"fsrcnn-x{scale}"] = fsrcnn(scale, args.rounds, Path(scratch))
                rows += fsrcnn_rows(scale, runs[f"fsrcnn-x{scale}"])
        if "esrgan" in parts:
            for model in ("esrgan-slim-x4", "esrgan-thick-x4"):
                runs[model] = esrgan(model, args.esrgan_runs)
                rows += esrgan_rows(model, runs[model])
    for data in runs.values():
        notes += data.get("notes", [])
        notes += [p["message"] for p in data.get("peers", []) if p["status"] != "measured"]
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown")
    report = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{cpu}, pinned to core {args.cpu}, load average {load_start[0]:.1f} at start, "
                   f"{os.getloadavg()[0]:.1f} at end",
        "protocol": f"{args.rounds} interleaved rounds over the photos for whole calls (every photo on every "
                    f"contender, order rotating), {args.esrgan_runs} interleaved runs per ESRGAN contender; "
                    "1 engine thread; 'auto' = the runtime's own backend choice.",
        "seconds": time.perf_counter() - started, "rows": rows, "notes": notes,
        "runs": {name: slim(data) for name, data in runs.items()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.out.with_suffix(".json"), report)
    write_bytes_atomic(args.out.with_suffix(".md"), markdown(report).encode("utf-8"))
    print(markdown(report))


if __name__ == "__main__":
    main()
