"""Person segmentation, whole call per photo: edgephoto segment() on each engine vs MediaPipe.

On /work/shared/data/portraits (150 photos with masks), every photo is run, interleaved round
by round, through
  mediapipe           MediaPipe 0.10.21's ImageSegmenter (Tasks API) with the selfie model from
                      its own wheel, in a long-lived child process of its own venv (mediapipe and
                      TensorFlow 2.21 cannot share one), timing its own call: photo array in ->
                      confidence mask out. Start-up and the pipe are not timed.
  <engine>            edgephoto segment() with default settings, one per engine installed
                      (onnxruntime, litert, openvino), artifact of the zoo `selfie`.
  <engine> before     the default as it was before (kept here to measure it): Pillow's fit
                      without pre-reduction, guided-filter upsampling at full resolution.
  stages:<engine>     the default call split into its stages (fit, model, probability, upsample).
Everything is pinned to one core (sched_setaffinity, as taskset -c 0) with 1 engine thread.
Times are per-photo medians over --repeats rounds, then the median (and mean) over photos;
IoU and boundary F (3 px) at full resolution, mask > 0.5, vs the ground-truth masks resized
nearest (photos 52, 69 and 110 have flawed masks: also reported without them).

    .venv/bin/python benchmarks/segmentation_speed.py [--limit N] [--repeats 5]

The peer is edgephoto.bench's `mediapipe` peer; its venv is made once: python -m venv
.cache/peer-mediapipe && .cache/peer-mediapipe/bin/pip install mediapipe==0.10.21
Writes benchmarks/results/segmentation_speed.{json,md}.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PORTRAITS = ROOT.parent / "shared" / "data" / "portraits"
RESULTS = ROOT / "benchmarks" / "results"
FLAWED = {52, 69, 110}  # ../shared/data/README.md
ENGINES = {"onnxruntime": ("onnxruntime", "onnx"), "litert": ("ai_edge_litert", "tflite"),
           "openvino": ("openvino", "openvino")}  # backend: (module that proves it installed, target)


# ---- peer: MediaPipe through the bench package (bench/peers.py, its own venv) ---------------

class Peer:
    """The MediaPipe peer's child process (bench/peer_child.py in .cache/peer-mediapipe), given
    every photo once at start and asked per photo index; it times its own call."""

    def __init__(self, photos: list[np.ndarray], folder: Path) -> None:
        from edgephoto.bench.peer_runs import PeerRun, write_inputs
        from edgephoto.bench.peers import PEERS

        peer = PEERS.get("mediapipe")
        why = peer.missing()
        if why:
            raise SystemExit(why)
        run = PeerRun(peer, "selfie", "call", write_inputs(photos, folder, "photo"), threads=1, warmup=0)
        self.worker = run.worker()
        self.facts = dict(self.worker.receive("ready")["backend"])

    def __call__(self, k: int, mask: Path | None) -> tuple[float, float]:
        if mask is not None:
            self.worker.ask(f"keep {k} {mask}", "kept")
        wall, cpu = self.worker.ask(f"run {k}", "ms")
        return float(wall) / 1e3, float(cpu) / 1e3

    def close(self) -> None:
        self.worker.ask("stop", "done")
        self.worker.stop()


# ---- edgephoto -------------------------------------------------------------------------------

def artifact(root: Path, target: str) -> Path:
    """<root>/selfie/<target>-fp32, converted from the zoo on first use."""
    path = root / "selfie" / f"{target}-fp32"
    if (path / "manifest.json").is_file():
        return path
    from edgephoto.convert.api import convert_model
    from edgephoto.convert.targets import TARGETS
    from edgephoto.zoo import get_model
    from edgephoto.zoo.weights import resolve

    spec = get_model("selfie")
    (result,) = convert_model(spec, resolve(spec) / spec.files[0].path, [TARGETS.get(target)], root)
    if not result.ok:
        raise SystemExit(f"converting selfie to {target} failed: {result.error}")
    return Path(str(result.path))


def staged(backend: Any, facts: Any, rgb: np.ndarray) -> dict[str, tuple[float, float]]:
    """segment()'s default path, stage by stage (the same functions, in the same order):
    {stage: (wall seconds, CPU seconds)}."""
    from edgephoto.runtime.tasks.common import run_model
    from edgephoto.runtime.tasks.segmentation import fit_photo, output_mask, upsample_mask

    marks = [(time.perf_counter(), time.process_time())]
    fitted, placement, input_hw = fit_photo(facts, rgb)
    marks.append((time.perf_counter(), time.process_time()))
    out = run_model(backend, facts, fitted[None])[0][0]
    marks.append((time.perf_counter(), time.process_time()))
    low = output_mask(facts, out, placement, input_hw)
    marks.append((time.perf_counter(), time.process_time()))
    upsample_mask(rgb, low)
    marks.append((time.perf_counter(), time.process_time()))
    names = ("fit", "model", "probability", "upsample")
    return {name: (marks[k + 1][0] - marks[k][0], marks[k + 1][1] - marks[k][1]) for k, name in enumerate(names)}


def before(backend: Any, facts: Any, rgb: np.ndarray) -> np.ndarray:
    """The default call as it was before the one-pass upsample: Pillow's bilinear fit without
    pre-reduction, then the guided filter at full resolution (refine.guided_upsample, unchanged)."""
    from PIL import Image

    from edgephoto.runtime.refine import guided_upsample
    from edgephoto.runtime.tasks.common import Fit, run_model
    from edgephoto.runtime.tasks.segmentation import output_mask

    h, w = (int(d) for d in facts.input.hw)
    image = Image.fromarray(np.ascontiguousarray(rgb), "RGB").resize((w, h), Image.Resampling.BILINEAR)
    placement = Fit((0, 0, h, w), (rgb.shape[0], rgb.shape[1]))  # 'stretch', selfie's fit
    out = run_model(backend, facts, np.asarray(image, np.float32)[None])[0][0]
    return guided_upsample(rgb, output_mask(facts, out, placement, (h, w)))


def scores(mask: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    from edgephoto.metrics import boundary_f, iou

    binary = mask > 0.5
    return {"iou": iou(binary, truth), "boundary_f": boundary_f(binary, truth, 3)}


# ---- the run ---------------------------------------------------------------------------------

def run(args: argparse.Namespace) -> dict[str, Any]:
    from PIL import Image

    from edgephoto.bench.stats import interleaved_schedule, summarize
    from edgephoto.runtime.artifact import load_artifact
    from edgephoto.runtime.image_io import read_photo
    from edgephoto.runtime.tasks.common import ModelFacts
    from edgephoto.runtime.tasks.segmentation import segment

    engines = [name for name in args.engines.split(",") if importlib.util.find_spec(ENGINES[name][0])]
    loaded = {name: load_artifact(artifact(args.artifacts, ENGINES[name][1]), backend=name, threads=1)
              for name in engines}
    facts = {name: ModelFacts.load(manifest) for name, (_, manifest) in loaded.items()}
    work = Path(tempfile.mkdtemp(prefix="segspeed-"))
    count = 150 if args.limit is None else max(1, min(args.limit, 150))
    ids = sorted({int(round(v)) for v in np.linspace(1, 150, count)})  # a subset spans every size
    photos = {i: read_photo(PORTRAITS / "images" / f"{i}.jpg").rgb for i in ids}
    peer = Peer([photos[i] for i in ids], work)
    index = {i: k for k, i in enumerate(ids)}
    current = {"photo": ids[0]}
    times: dict[str, dict[int, list[float]]] = {}
    stage_times: dict[str, dict[str, list[float]]] = {e: {} for e in engines}
    quality: dict[str, dict[int, dict[str, float]]] = {}
    sizes: dict[int, list[int]] = {}
    guided: dict[int, dict[str, float]] = {}
    cpu: dict[str, dict[int, list[float]]] = {}
    Call = Callable[[np.ndarray, Path, bool], tuple[float, float, np.ndarray | None]]

    def mediapipe(rgb: np.ndarray, npy: Path, keep: bool) -> tuple[float, float, np.ndarray | None]:
        seconds, cpu_seconds = peer(index[current["photo"]], work / "mp.npy" if keep else None)  # timed by the child
        return seconds, cpu_seconds, np.load(work / "mp.npy") if keep else None

    def edgephoto(run: Callable[..., np.ndarray], backend: Any, facts: ModelFacts) -> Call:
        def call(rgb: np.ndarray, npy: Path, keep: bool) -> tuple[float, float, np.ndarray | None]:
            t0, c0 = time.perf_counter(), time.process_time()
            mask = run(backend, facts, rgb)
            return time.perf_counter() - t0, time.process_time() - c0, mask
        return call

    def stages(backend: Any, facts: ModelFacts, engine: str) -> Call:
        def call(rgb: np.ndarray, npy: Path, keep: bool) -> tuple[float, float, np.ndarray | None]:
            c0 = time.process_time()
            parts = staged(backend, facts, rgb)
            for key, (wall, cpu_seconds) in parts.items():
                stage_times[engine].setdefault(key, []).append(wall)
                stage_times[engine].setdefault(f"cpu_{key}", []).append(cpu_seconds)
            return sum(wall for wall, _ in parts.values()), time.process_time() - c0, None
        return call

    runners: list[tuple[str, Call]] = [("mediapipe", mediapipe)]
    for name in engines:
        backend = loaded[name][0]
        runners += [(name, edgephoto(segment, backend, facts[name])),
                    (f"{name} before", edgephoto(before, backend, facts[name])),
                    (f"stages:{name}", stages(backend, facts[name], name))]
    started = time.perf_counter()
    for count, i in enumerate(ids):
        rgb, current["photo"] = photos[i], i
        sizes[i] = [int(rgb.shape[0]), int(rgb.shape[1])]
        truth = Image.open(PORTRAITS / "masks" / f"{i}.png").convert("L")
        truth_mask = np.asarray(truth.resize((rgb.shape[1], rgb.shape[0]), Image.Resampling.NEAREST)) > 127
        npy = work / "photo.npy"
        np.save(npy, rgb)
        if count == 0:  # warm every engine (first-call allocations, weight packing) before timing
            for _, call in runners:
                call(rgb, npy, False)
        for slot in interleaved_schedule(len(runners), args.repeats):
            label, call = runners[slot]
            keep = i not in quality.get(label, {}) and not label.startswith("stages:")
            seconds, cpu_seconds, mask = call(rgb, npy, keep)
            times.setdefault(label, {}).setdefault(i, []).append(seconds)
            cpu.setdefault(label, {}).setdefault(i, []).append(cpu_seconds)
            if keep and mask is not None:
                quality.setdefault(label, {})[i] = scores(mask, truth_mask)
        if engines:  # the guided filter on the new fit, quality only (its time: `before`)
            backend, facts_0 = loaded[engines[0]][0], facts[engines[0]]
            guided[i] = scores(segment(backend, facts_0, rgb, refine=True), truth_mask)
        if args.progress and (count + 1) % 10 == 0:
            print(f"{count + 1}/{len(ids)} photos, {time.perf_counter() - started:.0f} s", flush=True)
    peer.close()
    shutil.rmtree(work, ignore_errors=True)
    report = summarise(times, cpu, stage_times, quality, sizes, ids, peer.facts, loaded, args, summarize)
    if guided:
        report["guided_quality_only"] = {
            "what": f"segment(refine=True) on {engines[0]}: the guided filter with today's fit, untimed",
            "iou": round(float(np.mean([g["iou"] for g in guided.values()])), 4),
            "boundary_f": round(float(np.mean([g["boundary_f"] for g in guided.values()])), 4)}
    return report


def summarise(times: dict[str, dict[int, list[float]]], cpu: dict[str, dict[int, list[float]]], stage_times: dict[str, dict[str, list[float]]],
              quality: dict[str, dict[int, dict[str, float]]], sizes: dict[int, list[int]], ids: list[int],
              peer: dict[str, Any], loaded: dict[str, Any], args: argparse.Namespace,
              summarize: Callable[[list[float]], dict[str, Any]]) -> dict[str, Any]:
    per_photo = {label: {i: float(np.median(v)) for i, v in by_photo.items()} for label, by_photo in times.items()}
    base = per_photo["mediapipe"]
    per_photo_cpu = {label: {i: float(np.median(v)) for i, v in by_photo.items()} for label, by_photo in cpu.items()}
    base_cpu = float(np.median([per_photo_cpu["mediapipe"][i] for i in ids]))
    rows = []
    for label, values in per_photo.items():
        if label.startswith("stages:"):
            continue
        ms = [values[i] * 1e3 for i in ids]
        q = quality.get(label, {})
        clean = [i for i in ids if i not in FLAWED]
        rows.append({
            "runner": label, "photos": len(ids), "ms": {k: round(float(v), 3) for k, v in summarize(ms).items()},
            "ratio_vs_mediapipe": round(float(np.median(ms)) / float(np.median([base[i] * 1e3 for i in ids])), 3),
            "ratio_median_per_photo": round(float(np.median([values[i] / base[i] for i in ids])), 3),
            "ratio_of_means": round(float(np.mean(ms)) / float(np.mean([base[i] * 1e3 for i in ids])), 3),
            "cpu_ms_median": round(float(np.median([per_photo_cpu[label][i] for i in ids])) * 1e3, 3),
            "cpu_ratio_vs_mediapipe": round(float(np.median([per_photo_cpu[label][i] for i in ids])) / base_cpu, 3),
            "iou": round(float(np.mean([q[i]["iou"] for i in ids])), 4),
            "iou_median": round(float(np.median([q[i]["iou"] for i in ids])), 4),
            "iou_without_flawed": round(float(np.mean([q[i]["iou"] for i in clean])), 4),
            "boundary_f": round(float(np.mean([q[i]["boundary_f"] for i in ids])), 4),
        })
    stages = {}
    for engine, parts in stage_times.items():
        stages[engine] = {k: round(float(np.median(v)) * 1e3, 3) for k, v in parts.items()}
        for prefix in ("", "cpu_"):
            values = [stages[engine][f"{prefix}{name}"] for name in ("fit", "model", "probability", "upsample")]
            stages[engine][f"{prefix}sum_of_medians"] = round(sum(values), 3)
    return {
        "machine": f"{platform.machine()}, Python {platform.python_version()}, load {os.getloadavg()[0]:.1f}",
        "protocol": "per photo: median of --repeats interleaved rounds; then median/mean over photos; "
                    "1 core (sched_setaffinity), 1 engine thread; mask > 0.5 at full resolution vs the "
                    "ground truth resized nearest; boundary F at 3 px",
        "repeats": args.repeats, "photos": ids, "peer": peer,
        "engines": {name: backend.describe() for name, (backend, _) in loaded.items()},
        "rows": rows, "stages_ms_median": stages,
        "per_photo": [{"photo": i, "size": sizes[i],
                       "ms": {label: round(v[i] * 1e3, 3) for label, v in per_photo.items()},
                       "iou": {label: round(q[i]["iou"], 4) for label, q in quality.items()}} for i in ids],
    }


# ---- report ----------------------------------------------------------------------------------

def render(report: dict[str, Any]) -> str:
    n = len(report["photos"])
    lines = ["# Person segmentation: whole call per photo vs MediaPipe", "",
             f"Machine: {report['machine']}; {n} portraits, {report['repeats']} interleaved rounds; "
             f"MediaPipe {report['peer'].get('version')} ImageSegmenter (selfie, its own wheel's model). "
             "Numbers from `segmentation_speed.json`.", "", report["protocol"] + ".", "",
             "| runner | ms/photo (median) | mean | p90 | edgephoto / MediaPipe (medians) | median of per-photo "
             "ratios | ratio of means | CPU ms (median) | CPU ratio | IoU | IoU without 52, 69, 110 | median IoU "
             "| boundary F (3 px) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in report["rows"]:
        ms = row["ms"]
        lines.append(f"| {row['runner']} | {ms['median']:.2f} | {ms['mean']:.2f} | {ms['p90']:.2f} "
                     f"| {row['ratio_vs_mediapipe']:.2f} | {row['ratio_median_per_photo']:.2f} "
                     f"| {row['ratio_of_means']:.2f} | {row['cpu_ms_median']:.2f} | {row['cpu_ratio_vs_mediapipe']:.2f} "
                     f"| {row['iou']:.4f} | {row['iou_without_flawed']:.4f} "
                     f"| {row['iou_median']:.4f} | {row['boundary_f']:.4f} |")
    lines += ["", "`<engine>`: segment() defaults (one bilinear pass to full size); `<engine> before`: "
              "the former default (Pillow fit without pre-reduction, guided filter at full size).", "",
              *([f"Guided filter with today's fit ({report['guided_quality_only']['what']}): IoU "
                 f"{report['guided_quality_only']['iou']:.4f}, boundary F "
                 f"{report['guided_quality_only']['boundary_f']:.4f}.", ""] if "guided_quality_only" in report else []),
              "## Stages of the default call (median over all timed runs, ms; wall and process CPU)", "",
              "| engine | clock | fit (resize in) | model | probability + crop | upsample | sum |",
              "|---|---|---|---|---|---|---|"]
    for engine, s in report["stages_ms_median"].items():
        for clock, p in (("wall", ""), ("CPU", "cpu_")):
            lines.append(f"| {engine} | {clock} | {s[p + 'fit']:.2f} | {s[p + 'model']:.2f} "
                         f"| {s[p + 'probability']:.2f} | {s[p + 'upsample']:.2f} | {s[p + 'sum_of_medians']:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="N photos spread over 1..150 (quick runs)")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds per photo")
    parser.add_argument("--engines", default=",".join(ENGINES), help="backends to try (those installed run)")
    parser.add_argument("--artifacts", type=Path, default=ROOT / ".cache" / "seg-bench-artifacts")
    parser.add_argument("--cpu", type=int, default=0, help="the one core everything is pinned to")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args()
    unknown = sorted(set(args.engines.split(",")) - set(ENGINES))
    if unknown:
        raise SystemExit(f"unknown engine(s) {unknown}; choose from {sorted(ENGINES)}")
    from edgephoto.files import write_bytes_atomic

    os.sched_setaffinity(0, {args.cpu})  # the MediaPipe child inherits it
    started = time.perf_counter()
    report = run(args)
    report["seconds"] = round(time.perf_counter() - started, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(args.out / "segmentation_speed.json", (json.dumps(report, indent=2) + "\n").encode())
    write_bytes_atomic(args.out / "segmentation_speed.md", render(report).encode())
    print(render(report))


if __name__ == "__main__":
    main()
