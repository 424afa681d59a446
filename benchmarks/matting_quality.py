"""Matting quality: modnet and u2netp vs today's default matte, on real photos with references.

Contenders (onnxruntime artifacts of the zoo models, 1 engine thread, pinned to one core):
  default    what `edgephoto run --steps matte` does with no matting artifact: the zoo `selfie`
             segmentation mask, guided-filter refined to photo size (segment(refine=True),
             reused by the matte step from the segment step)
  modnet     matte() with the zoo `modnet` (512x512), guided-filter refined (the matting default)
  u2netp     matte() with the zoo `u2netp` (320x320), guided-filter refined
Data, scored at full photo resolution:
  portraits  /work/shared/data/portraits 1-150 (or --limit N): binary person masks made with a
             commercial background remover (close to, not exactly, ground truth; photos 52, 69
             and 110 have flawed masks: also reported without them). IoU at alpha > 0.5, SAD
             (thousands) and MSE of the alpha against the 0/1 mask.
  lemur      /work/shared/data/matting/lemur.png: its reference alpha is a closed-form matting
             result from a trimap (pymatting), not hand-made ground truth. SAD, MSE and gradient
             error over the whole photo and over the trimap's unknown band.
Time: per photo, the median over --rounds interleaved rounds (every photo on every contender,
the order rotating), then the median over photos; wall and CPU ms of the whole call.

    PYTHONPATH=src .venv/bin/python benchmarks/matting_quality.py [--limit N] [--rounds 3]

Writes benchmarks/results/matting_quality.{json,md}.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("EDGEPHOTO_SHARED") or ROOT.parent / "shared") / "data"
RESULTS = ROOT / "benchmarks" / "results"
FLAWED = {52, 69, 110}  # ../shared/data/README.md
CONTENDERS = {"default": "selfie", "modnet": "modnet", "u2netp": "u2netp"}
DECISION = ("the matting task keeps no default model: neither contender beats the default matte on "
            "mean IoU or MSE over the portraits (paired intervals include 0; MODNet fails on a few "
            "photos, e.g. #148), MODNet's lower SAD and lemur errors come at ~14x the CPU time, and "
            "a default would add a MODNet conversion to the README's first command")


def load_contenders(artifacts: Path, bilinear: bool = False) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """label -> call; bilinear=True adds '<label> bilinear': the same model upsampled without
    the guided filter (refine=False), to measure what the edge-aware refinement buys."""
    from edgephoto.api import load

    calls: dict[str, Callable[[np.ndarray], np.ndarray]] = {}
    for label, model in CONTENDERS.items():
        loaded = load(model, backend="onnxruntime", threads=1, artifacts=artifacts)
        calls[label] = lambda rgb, m=loaded: m(rgb, refine=True)  # the matte step's own call
        if bilinear:
            calls[f"{label} bilinear"] = lambda rgb, m=loaded: m(rgb, refine=False)
    return calls


def portrait_pairs(limit: int | None) -> list[tuple[int, np.ndarray, np.ndarray]]:
    from edgephoto.runtime.image_io import read_photo

    folder = DATA / "portraits"
    out = []
    for k in range(1, (limit or 150) + 1):
        rgb = read_photo(folder / "images" / f"{k}.jpg").rgb
        with Image.open(folder / "masks" / f"{k}.png") as mask:
            grey = mask.convert("L").resize((rgb.shape[1], rgb.shape[0]), Image.Resampling.NEAREST)
        out.append((k, rgb, (np.asarray(grey) > 127).astype(np.float32)))
    return out


def timed(call: Callable[[np.ndarray], np.ndarray], rgb: np.ndarray) -> tuple[np.ndarray, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    alpha = np.clip(np.asarray(call(rgb), np.float32), 0, 1)
    return alpha, (time.perf_counter() - wall) * 1e3, (time.process_time() - cpu) * 1e3


def summary(values: list[float]) -> dict[str, float]:
    return {"mean": round(statistics.fmean(values), 4), "median": round(statistics.median(values), 4)}


def portraits(calls: dict[str, Any], limit: int | None, rounds: int) -> dict[str, Any]:
    from edgephoto.metrics import iou, sad

    pairs = portrait_pairs(limit)
    labels = list(calls)
    scores: dict[str, dict[int, dict[str, float]]] = {label: {} for label in labels}
    walls: dict[str, dict[int, list[float]]] = {label: {k: [] for k, _, _ in pairs} for label in labels}
    cpus: dict[str, dict[int, list[float]]] = {label: {k: [] for k, _, _ in pairs} for label in labels}
    for r in range(rounds):
        for i, (k, rgb, mask) in enumerate(pairs):
            order = labels[(i + r) % len(labels):] + labels[: (i + r) % len(labels)]
            for label in order:
                alpha, wall, cpu = timed(calls[label], rgb)
                walls[label][k].append(wall)
                cpus[label][k].append(cpu)
                if r == 0:
                    scores[label][k] = {"iou": iou(alpha > 0.5, mask > 0.5), "sad": sad(alpha, mask),
                                        "mse": float(np.mean((alpha - mask) ** 2))}
    out: dict[str, Any] = {}
    for label in labels:
        row: dict[str, Any] = {}
        for subset, keys in (("all", [k for k, _, _ in pairs]),
                             ("without_flawed", [k for k, _, _ in pairs if k not in FLAWED])):
            row[subset] = {m: summary([scores[label][k][m] for k in keys]) for m in ("iou", "sad", "mse")}
        row["wall_ms"] = summary([statistics.median(v) for v in walls[label].values()])
        row["cpu_ms"] = summary([statistics.median(v) for v in cpus[label].values()])
        row["per_photo"] = {str(k): {m: round(v, 5) for m, v in s.items()} for k, s in scores[label].items()}
        out[label] = row
    return {"photos": len(pairs), "rounds": rounds, "contenders": out}


def lemur(calls: dict[str, Any], rounds: int) -> dict[str, Any]:
    from edgephoto.metrics import gradient_error, sad
    from edgephoto.runtime.image_io import read_photo

    folder = DATA / "matting"
    rgb = read_photo(folder / "lemur.png").rgb
    with Image.open(folder / "lemur_alpha.png") as a, Image.open(folder / "lemur_trimap.png") as t:
        ref = np.asarray(a.convert("L"), np.float32) / 255.0
        trimap = np.asarray(t.convert("L"))
    unknown = (trimap > 0) & (trimap < 255)
    out = {}
    for label, call in calls.items():
        times = [timed(call, rgb) for _ in range(rounds)]
        alpha = times[0][0]
        out[label] = {
            "sad": round(sad(alpha, ref), 4), "mse": round(float(np.mean((alpha - ref) ** 2)), 5),
            "grad": round(gradient_error(alpha, ref), 4),
            "sad_unknown": round(sad(alpha * unknown, ref * unknown), 4),
            "mse_unknown": round(float(np.mean((alpha[unknown] - ref[unknown]) ** 2)), 5),
            "wall_ms": round(statistics.median(t[1] for t in times), 1),
        }
    return {"size": [int(rgb.shape[1]), int(rgb.shape[0])], "unknown_fraction": round(float(unknown.mean()), 4),
            "contenders": out}


def paired(contenders: dict[str, Any], baseline: str = "default") -> dict[str, Any]:
    """Per photo, contender minus baseline: mean difference, its 95 % bootstrap interval
    (2000 resamples of the photos, seed 0) and the share of photos where the contender is better."""
    rng = np.random.default_rng(0)
    base = contenders[baseline]["per_photo"]
    keys = sorted(base, key=int)
    out: dict[str, Any] = {}
    for label, row in contenders.items():
        if label == baseline:
            continue
        out[label] = {}
        for metric in ("iou", "sad", "mse"):
            diff = np.array([row["per_photo"][k][metric] - base[k][metric] for k in keys])
            boot = [float(rng.choice(diff, len(diff)).mean()) for _ in range(2000)]
            better = diff > 0 if metric == "iou" else diff < 0
            out[label][metric] = {"mean_diff": round(float(diff.mean()), 5),
                                  "ci95": [round(float(np.percentile(boot, q)), 5) for q in (2.5, 97.5)],
                                  "better_share": round(float(better.mean()), 3)}
        worst = sorted(keys, key=lambda k: row["per_photo"][k]["iou"])[:3]
        out[label]["worst_iou"] = {k: [row["per_photo"][k]["iou"], base[k]["iou"]] for k in worst}
    return out


def markdown(report: dict[str, Any]) -> str:
    lines = ["# Matting quality: modnet, u2netp vs today's default matte", "",
             f"{report['created']}, {report['machine']}. {report['protocol']}", ""]
    if report.get("portraits"):
        lines += portrait_lines(report["portraits"])
    if report.get("lemur"):
        lines += lemur_lines(report["lemur"])
    lines += ["", "## Notes", "", *(f"- {n}" for n in report["notes"])]
    if report.get("decision"):
        lines += [f"- decision: {report['decision']}"]
    return "\n".join(lines) + "\n"


def portrait_lines(p: dict[str, Any]) -> list[str]:
    lines = [f"## Portraits ({p['photos']} photos, binary masks from a commercial remover; "
             "all / without the flawed 52, 69, 110)", "",
             "| contender | IoU mean | IoU median | SAD mean | MSE mean | IoU mean w/o flawed | ms/photo (median wall) | CPU ms |",
             "|---|---|---|---|---|---|---|---|"]
    for label, row in p["contenders"].items():
        a, w = row["all"], row["without_flawed"]
        lines.append(f"| {label} | {a['iou']['mean']:.4f} | {a['iou']['median']:.4f} | {a['sad']['mean']:.3f} | "
                     f"{a['mse']['mean']:.4f} | {w['iou']['mean']:.4f} | {row['wall_ms']['median']:.1f} | "
                     f"{row['cpu_ms']['median']:.1f} |")
    pairs = p.get("paired") or paired(p["contenders"])
    lines += ["", "Paired against default, per photo (contender minus default; 95 % bootstrap interval; "
              "share of photos where the contender is better):", ""]
    for label, row in pairs.items():
        cells = [f"{m} {row[m]['mean_diff']:+.4f} [{row[m]['ci95'][0]:+.4f}, {row[m]['ci95'][1]:+.4f}], "
                 f"better on {row[m]['better_share']:.0%}" for m in ("iou", "sad", "mse")]
        worst = ", ".join(f"#{k} {v[0]:.3f} (default {v[1]:.3f})" for k, v in row["worst_iou"].items())
        lines.append(f"- {label}: " + "; ".join(cells) + f". Lowest IoU: {worst}")
    return lines


def lemur_lines(lm: dict[str, Any]) -> list[str]:
    lines = ["", f"## Lemur ({lm['size'][0]}x{lm['size'][1]}; reference alpha = closed-form matting "
              f"result, unknown band {lm['unknown_fraction']:.1%} of the photo)", "",
              "| contender | SAD | MSE | gradient | SAD unknown | MSE unknown | ms |", "|---|---|---|---|---|---|---|"]
    for label, row in lm["contenders"].items():
        lines.append(f"| {label} | {row['sad']:.3f} | {row['mse']:.5f} | {row['grad']:.3f} | "
                     f"{row['sad_unknown']:.3f} | {row['mse_unknown']:.5f} | {row['wall_ms']:.1f} |")
    return lines


def main() -> None:
    from edgephoto.manifest import write_json_atomic
    from edgephoto.runtime.image_io import write_bytes_atomic

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="first N portraits (default all 150)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds")
    parser.add_argument("--cpu", type=int, default=0, help="the one core everything is pinned to")
    parser.add_argument("--artifacts", type=Path, default=None, help="where the onnx artifacts are built")
    parser.add_argument("--out", type=Path, default=RESULTS / "matting_quality")
    parser.add_argument("--parts", default="portraits,lemur")
    parser.add_argument("--bilinear", action="store_true", help="also each model without the guided filter")
    parser.add_argument("--render", type=Path, help="re-render the Markdown of a results JSON")
    args = parser.parse_args()
    if args.render:
        import json

        done = json.loads(args.render.read_text())
        if done.get("portraits"):
            done["portraits"]["paired"] = paired(done["portraits"]["contenders"])
        write_json_atomic(args.render, done)
        write_bytes_atomic(args.render.with_suffix(".md"), markdown(done).encode("utf-8"))
        return
    os.sched_setaffinity(0, {args.cpu})
    started, load_start = time.perf_counter(), os.getloadavg()
    calls = load_contenders(args.artifacts or Path(".cache/artifacts"), args.bilinear)
    parts = args.parts.split(",")
    report: dict[str, Any] = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "protocol": f"onnxruntime fp32 artifacts, 1 engine thread; {args.rounds} interleaved rounds, "
                    "quality from the first; alpha scored at full photo resolution",
        "portraits": portraits(calls, args.limit, args.rounds) if "portraits" in parts else None,
        "lemur": lemur(calls, args.rounds) if "lemur" in parts else None,
        "decision": DECISION if "portraits" in parts and not args.bilinear else None,
        "notes": ["portrait masks are binary: SAD/MSE against them also charge a soft but right edge",
                  "lemur is an animal, not a person: the selfie model and MODNet (portrait matting) are "
                  "outside their training domain there; U2-Net-p is a salient-object model",
                  "timings: wall ms include waiting on a shared machine (see the load average above); "
                  "CPU ms and the ratios between contenders, timed interleaved, are the comparable numbers"],
    }
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown")
    report["machine"] = (f"{cpu}, pinned to core {args.cpu}, load average {load_start[0]:.1f} at start, "
                         f"{os.getloadavg()[0]:.1f} at end")
    if report["portraits"]:
        report["portraits"]["paired"] = paired(report["portraits"]["contenders"])
    report["seconds"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.out.with_suffix(".json"), report)
    write_bytes_atomic(args.out.with_suffix(".md"), markdown(report).encode("utf-8"))
    print(markdown(report))


if __name__ == "__main__":
    main()
