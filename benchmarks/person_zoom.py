"""Person segmentation with a zoom-in second pass (issue 13): IoU by person size, CPU ms.

On /work/shared/data/portraits (150 photos with masks), every photo is run, interleaved round
by round (round-robin, rotating start), through
  mediapipe            MediaPipe 0.10.21's ImageSegmenter with the selfie model from its own
                       wheel, in a child process of its own venv (as segmentation_speed.py),
                       timing its own call; skipped with --no-mediapipe or when not installed.
  single pass          edgephoto segment(zoom=False): one pass on the whole photo, as before.
  zoom ...             segment(zoom=ZoomPolicy(...)): the default policy and the variants tried.
Everything is pinned to one core (sched_setaffinity) with 1 onnxruntime thread; CPU time is
time.process_time around the whole call. Per photo the median of --repeats rounds, then the
median over photos. IoU at full resolution, mask > 0.5, vs the ground truth resized nearest.
Subsets by the ground-truth person's share of the frame: < 10 %, 10-40 %, > 40 %. The zoom
policy's thresholds were chosen on portraits 1-75 only; 76-150 are reported as held out.

    PYTHONPATH=src EDGEPHOTO_PEER_VENVS=.cache .venv/bin/python benchmarks/person_zoom.py
    .venv/bin/python benchmarks/person_zoom.py --render   # Markdown again from the JSON

Writes benchmarks/results/person_zoom.{json,md} (--model M: person_zoom_M.{json,md}).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
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
PORTRAITS = Path(os.environ.get("EDGEPHOTO_SHARED") or ROOT.parent / "shared") / "data" / "portraits"
RESULTS = ROOT / "benchmarks" / "results"
FLAWED = {52, 69, 110}  # ../shared/data/README.md
SMALL_FLAWED = (108, 110)  # the small-person portraits whose ground truth is off (see targets)
TUNING, HELD_OUT = range(1, 76), range(76, 151)
SUBSETS = {"< 10 %": (0.0, 0.10), "10-40 %": (0.10, 0.40), "> 40 %": (0.40, 1.01)}
# label: (ZoomPolicy keywords, None for today's single pass; refine)
VARIANTS: dict[str, tuple[dict[str, Any] | None, bool]] = {
    "single pass (zoom=False)": (None, False),  # segment() before issue 13
    "zoom (default policy)": ({}, False),  # ZoomPolicy's defaults, chosen on portraits 1-75
    "zoom, one box around everyone": ({"per_person": False}, False),  # the policy before per-person boxes
    "zoom, fuse replace": ({"fuse": "replace"}, False),
    "zoom, fuse mean": ({"fuse": "mean"}, False),
    "zoom, square crop": ({"max_aspect": 1.0}, False),
    "zoom, 25 % margin": ({"margin": 0.25}, False),
    "zoom, max_area 0.3": ({"max_area": 0.3}, False),
    "single pass, refine=True (pipeline step before)": (None, True),
    "zoom, refine=True (pipeline step)": ({}, True),
}
DECISION_CALLS = 50
Call = Callable[[int, np.ndarray, bool], tuple[float, float, np.ndarray | None]]


class Peer:
    """The MediaPipe peer's child (bench/peer_child.py in its venv), given every photo at
    start and asked per photo index; it times its own call (wall, CPU)."""

    def __init__(self, photos: list[np.ndarray], folder: Path) -> None:
        from edgephoto.bench.peer_runs import PeerRun, write_inputs
        from edgephoto.bench.peers import PEERS

        peer = PEERS.get("mediapipe")
        why = peer.missing()
        if why:
            raise RuntimeError(why)
        self.folder = folder
        run = PeerRun(peer, "selfie", "call", write_inputs(photos, folder, "photo"), threads=1, warmup=0)
        self.worker = run.worker()
        self.facts = dict(self.worker.receive("ready")["backend"])

    def __call__(self, k: int, rgb: np.ndarray, keep: bool) -> tuple[float, float, np.ndarray | None]:
        out = self.folder / "mask.npy"
        if keep:
            self.worker.ask(f"keep {k} {out}", "kept")
        wall, cpu = self.worker.ask(f"run {k}", "ms")
        return float(wall), float(cpu), np.load(out) if keep else None

    def close(self) -> None:
        self.worker.ask("stop", "done")
        self.worker.stop()


def truth_mask(i: int, hw: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    truth = Image.open(PORTRAITS / "masks" / f"{i}.png").convert("L")
    return np.asarray(truth.resize((hw[1], hw[0]), Image.Resampling.NEAREST)) > 127


def run(args: argparse.Namespace) -> dict[str, Any]:
    import edgephoto.api
    from edgephoto.bench.stats import interleaved_schedule
    from edgephoto.metrics import iou
    from edgephoto.runtime.image_io import read_photo
    from edgephoto.runtime.tasks.common import ModelFacts
    from edgephoto.runtime.tasks.segmentation import ZoomPolicy, low_res_mask, segment, zoom_regions

    model = edgephoto.api.load(args.model, backend="onnxruntime", threads=1)
    backend, facts = model.backend, ModelFacts.load(model.manifest)
    count = 150 if args.limit is None else max(1, min(args.limit, 150))
    ids = sorted({int(round(v)) for v in np.linspace(1, 150, count)})
    photos = {i: read_photo(PORTRAITS / "images" / f"{i}.jpg").rgb for i in ids}
    policies = {label: None if kw is None else ZoomPolicy(**kw) for label, (kw, _) in VARIANTS.items()}

    def ours(policy: ZoomPolicy | None, refine: bool) -> Call:
        def call(k: int, rgb: np.ndarray, keep: bool) -> tuple[float, float, np.ndarray | None]:
            t0, c0 = time.perf_counter(), time.process_time()
            mask = segment(backend, facts, rgb, zoom=policy or False, refine=refine)
            return (time.perf_counter() - t0) * 1e3, (time.process_time() - c0) * 1e3, mask
        return call

    runners: dict[str, Call] = {label: ours(policies[label], refine) for label, (_, refine) in VARIANTS.items()}
    work = Path(tempfile.mkdtemp(prefix="person-zoom-"))
    peer, peer_note = None, "not run (--no-mediapipe)"
    if args.model != "selfie":
        peer_note = f"not run: MediaPipe runs its own selfie model, not {args.model}"
    elif not args.no_mediapipe:
        try:
            peer = Peer([photos[i] for i in ids], work)
            runners = {"mediapipe": peer, **runners}
            peer_note = f"MediaPipe {peer.facts.get('version', '?')} ImageSegmenter, selfie from its wheel"
        except RuntimeError as exc:
            peer_note = f"not run: {exc}"
    labels = list(runners)
    per_photo: list[dict[str, Any]] = []
    started = time.perf_counter()
    for n, i in enumerate(ids):
        rgb = photos[i]
        truth = truth_mask(i, rgb.shape[:2])
        if n == 0:  # warm every runner (allocations, weight packing) before timing
            for label in labels:
                runners[label](ids.index(i), rgb, False)
        cpu: dict[str, list[float]] = {label: [] for label in labels}
        wall: dict[str, list[float]] = {label: [] for label in labels}
        scores: dict[str, float] = {}
        for slot in interleaved_schedule(len(labels), args.repeats):
            label = labels[slot]
            keep = label not in scores
            seconds, cpu_ms, mask = runners[label](ids.index(i), rgb, keep)
            wall[label].append(seconds)
            cpu[label].append(cpu_ms)
            if keep and mask is not None:
                scores[label] = iou(mask > 0.5, truth)
        low = low_res_mask(backend, facts, rgb)  # untimed: which variants took a second pass
        zoomed = {label: len(zoom_regions(low, rgb.shape[:2], p)) for label, p in policies.items() if p}
        c0 = time.process_time()  # the decision alone: all a large person adds to the single pass
        for _ in range(DECISION_CALLS):
            zoom_regions(low, rgb.shape[:2], ZoomPolicy())
        decision_us = (time.process_time() - c0) / DECISION_CALLS * 1e6
        per_photo.append({"photo": i, "size": list(rgb.shape[:2]), "person_fraction": round(float(truth.mean()), 4),
                          "iou": {k: round(v, 4) for k, v in scores.items()},
                          "cpu_ms": {k: round(float(np.median(v)), 3) for k, v in cpu.items()},
                          "wall_ms": {k: round(float(np.median(v)), 3) for k, v in wall.items()},
                          "zoomed": zoomed, "decision_us": round(decision_us, 2)})
        if args.progress and (n + 1) % 25 == 0:
            print(f"{n + 1}/{len(ids)} photos, {time.perf_counter() - started:.0f} s", flush=True)
    if peer is not None:
        peer.close()
    shutil.rmtree(work, ignore_errors=True)
    return {
        "machine": f"{platform.machine()}, Python {platform.python_version()}, load {os.getloadavg()[0]:.1f} at end",
        "protocol": f"{args.repeats} interleaved rounds per photo (round-robin, rotating start), per-photo "
                    "median, then over photos; 1 core (sched_setaffinity), 1 onnxruntime thread; CPU = "
                    "time.process_time around the whole call (MediaPipe: its child's own CPU time); mask > 0.5 "
                    "at full resolution vs ground truth resized nearest",
        "tuning": "zoom thresholds chosen on portraits 1-75; 76-150 held out",
        "model": args.model, "peer": peer_note, "engine": backend.describe(), "repeats": args.repeats,
        "variants": {label: None if p is None else dataclasses.asdict(p) for label, p in policies.items()},
        "summary": summarise(per_photo, labels), "per_photo": per_photo,
        "decision_us_median": round(float(np.median([p["decision_us"] for p in per_photo])), 2),
    }


def summarise(per_photo: list[dict[str, Any]], labels: list[str]) -> dict[str, Any]:
    """Per variant: mean IoU per split and subset (with counts), median CPU ms, zoom counts."""
    splits = {"all": range(1, 151), "tuning 1-75": TUNING, "held-out 76-150": HELD_OUT}
    out: dict[str, Any] = {}
    for label in labels:
        row: dict[str, Any] = {"iou": {}, "cpu_ms": {}}
        for split, members in splits.items():
            rows = [p for p in per_photo if p["photo"] in members and label in p["iou"]]
            cells = {"all": rows, **{name: [p for p in rows if lo <= p["person_fraction"] < hi]
                                     for name, (lo, hi) in SUBSETS.items()}}
            cells["all without 52, 69, 110"] = [p for p in rows if p["photo"] not in FLAWED]
            row["iou"][split] = {name: {"mean": round(float(np.mean([p["iou"][label] for p in ps])), 4) if ps else None,
                                        "n": len(ps)} for name, ps in cells.items()}
        timed = [p for p in per_photo if label in p["cpu_ms"]]
        for name, ps in {"all": timed, **{n: [p for p in timed if lo <= p["person_fraction"] < hi]
                                          for n, (lo, hi) in SUBSETS.items()}}.items():
            row["cpu_ms"][name] = round(float(np.median([p["cpu_ms"][label] for p in ps])), 3) if ps else None
        fired = [p for p in per_photo if p["zoomed"].get(label)]
        row["zoomed"] = {"photos": len(fired), "second passes": sum(int(p["zoomed"][label]) for p in fired),
                         **{name: sum(lo <= p["person_fraction"] < hi for p in fired) for name, (lo, hi) in SUBSETS.items()}}
        row["cpu_ms"]["zoomed photos"] = round(float(np.median([p["cpu_ms"][label] for p in fired])), 3) if fired else None
        out[label] = row
    return out


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def targets(report: dict[str, Any]) -> list[str]:
    """The issue's targets (IoU >= MediaPipe + 4 points overall, + 10 on people under 10 % of
    the frame) against what the default zoom measured, in IoU points."""
    label = "zoom (default policy)"
    ours, peer = report["summary"].get(label), report["summary"].get("mediapipe")
    if ours is None or peer is None:
        return []

    def gain(split: str, subset: str) -> str:
        return f"{100 * (ours['iou'][split][subset]['mean'] - peer['iou'][split][subset]['mean']):+.2f}"

    small = {p["photo"]: p["iou"][label] for p in report["per_photo"] if p["person_fraction"] < 0.10}
    rest = [v for i, v in small.items() if i not in SMALL_FLAWED]
    flawed = ", ".join(f"{i}: {small[i]:.2f}" for i in SMALL_FLAWED if i in small)
    target = peer["iou"]["all"]["< 10 %"]["mean"] + 0.10
    needed = (target * len(small) - sum(small[i] for i in SMALL_FLAWED if i in small)) / max(len(rest), 1)
    return ["**Against the issue's targets** (default zoom minus MediaPipe, IoU points): overall "
            f"{gain('all', 'all')} (target +4; held-out {gain('held-out 76-150', 'all')}), person < 10 % "
            f"{gain('all', '< 10 %')} (target +10; held-out {gain('held-out 76-150', '< 10 %')}): both missed. "
            f"In the < 10 % subset, 108 (ground truth with holes in the body) and 110 (a flawed mask, "
            f"../shared/data/README.md) score {flawed} with the default zoom; the other {len(rest)} average "
            f"{np.mean(rest):.4f}; with those two as they are, +10 points on the subset would need the other "
            f"{len(rest)} to average {needed:.3f}.", ""]


def render(report: dict[str, Any]) -> str:
    summary = report["summary"]
    first = next(iter(summary.values()))
    lines = ["# Person segmentation: zoom-in second pass for small people (issue 13)", "",
             f"Model: zoo `{report.get('model', 'selfie')}` on onnxruntime. Machine: {report['machine']}. Peer: {report['peer']}. Numbers from `person_zoom.json`.", "",
             report["protocol"] + ".", "",
             f"**Held out:** {report['tuning']}; the tuning half holds only "
             f"{first['iou']['tuning 1-75']['< 10 %']['n']} portrait(s) with a person under 10 % of the frame, "
             f"the held-out half {first['iou']['held-out 76-150']['< 10 %']['n']}, so the small-person "
             "figures rest on very few photos.", ""]
    lines += targets(report)
    for split in ("all", "tuning 1-75", "held-out 76-150"):
        cells = first["iou"][split]
        lines += [f"## Mean IoU, portraits {split}", "",
                  "| variant | " + " | ".join(f"{name} (n={c['n']})" for name, c in cells.items()) + " |",
                  "|---|" + "---|" * len(cells)]
        for label, row in summary.items():
            values = [row["iou"][split][name]["mean"] for name in cells]
            lines.append(f"| {label} | " + " | ".join("—" if v is None else f"{v:.4f}" for v in values) + " |")
        lines.append("")
    lines += ["## CPU ms per photo (median over photos), and how often the second pass ran", "",
              "| variant | all | person < 10 % | 10-40 % | > 40 % (one large person) | photos zoomed "
              "| second passes | zoomed: < 10 % / 10-40 % / > 40 % | median on zoomed photos |",
              "|---|---|---|---|---|---|---|---|---|"]
    for label, row in summary.items():
        ms, z = row["cpu_ms"], row["zoomed"]
        fired = "—" if label == "mediapipe" else f"{z['photos']} | {z.get('second passes', z['photos'])}"
        split = "—" if label == "mediapipe" else f"{z['< 10 %']} / {z['10-40 %']} / {z['> 40 %']}"
        cells = [_ms(ms[name]) for name in ("all", "< 10 %", "10-40 %", "> 40 %")]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {fired} | {split} | {_ms(ms['zoomed photos'])} |")
    if "decision_us_median" in report:
        lines += ["", f"The zoom decision alone (zoom_regions on the first pass's map, the only work zoom adds "
                  f"when it does not fire): {report['decision_us_median']:.1f} µs CPU per photo (median)."]
    lines += ["", "Variants: ZoomPolicy fields changed from the default "
              f"({', '.join(f'{k}={v}' for k, v in report['variants']['zoom (default policy)'].items())}):",
              *(f"- {label}: {kw}" for label, (kw, _) in VARIANTS.items() if kw),
              "- refine=True: the guided filter (the pipeline's segment step), with and without zoom", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="N photos spread over 1..150 (quick runs)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds per photo")
    parser.add_argument("--cpu", type=int, default=0, help="the one core everything is pinned to")
    parser.add_argument("--no-mediapipe", action="store_true", help="leave the MediaPipe peer out")
    parser.add_argument("--render", action="store_true", help="only render the Markdown from the JSON")
    parser.add_argument("--model", default="selfie", help="zoo segmentation model (MediaPipe joins for selfie)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args()
    stem = "person_zoom" if args.model == "selfie" else f"person_zoom_{args.model}"
    json_path, md_path = args.out / f"{stem}.json", args.out / f"{stem}.md"
    if args.render:
        md_path.write_text(render(json.loads(json_path.read_text())))
        return
    from edgephoto.files import write_bytes_atomic

    os.sched_setaffinity(0, {args.cpu})  # the MediaPipe child inherits it
    started = time.perf_counter()
    report = run(args)
    report["seconds"] = round(time.perf_counter() - started, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(json_path, (json.dumps(report, indent=2) + "\n").encode())
    write_bytes_atomic(md_path, render(report).encode())
    print(render(report))


if __name__ == "__main__":
    main()
