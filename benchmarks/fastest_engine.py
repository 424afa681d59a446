"""Which engine runs each zoo model fastest on this CPU class: the table backend="auto" reads.

    nice -n 10 python benchmarks/fastest_engine.py [--models fsrcnn-x2,selfie] [--runs 15]
    python benchmarks/fastest_engine.py --render benchmarks/results/fastest_engine.json

For every model (default: the task table's default zoo models, plus FSRCNN x3/x4 and
esrgan-slim-x4) the fp32 artifact of every installed engine is built (edgephoto.api.zoo_artifact,
reused when present), loaded through the runtime backend with its default options and 1 thread,
and fed real-photo input: the built-in astronaut photo at the size the runtime feeds the
model (a 128² crop for tiled models, the photo resized for whole-image models). Models with open
H/W (FSRCNN) run whole photos of every size, so one run feeds crops of the photo at OPEN_SIZES in
turn and is timed as a whole: an engine that re-plans for each new size (LiteRT re-allocates its
tensors) pays for it as it would on a photo library, which one fixed size hid. Runs are
interleaved (every engine once per round, order rotating); the median per engine ranks them. Results: benchmarks/results/fastest_engine.json
(+ .md rendered from it); the ranking for this CPU class is merged into the zoo's table
src/edgephoto/zoo/fastest_engines.json, keeping what other CPU classes measured.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "fastest_engine.json"
EXTRA_MODELS = ("fsrcnn-x3", "fsrcnn-x4", "esrgan-slim-x4")
# (h, w) crops fed in turn to open-H/W models: Set5/Set14-like LR sizes up to the whole 512² photo
OPEN_SIZES = ((64, 64), (96, 128), (128, 170), (200, 256), (288, 352), (512, 512))


def default_models() -> list[str]:
    from edgephoto.tasks import default_models as by_role

    return list(dict.fromkeys([*by_role().values(), *EXTRA_MODELS]))


def real_inputs(spec: Any) -> list[np.ndarray]:
    """The built-in sample photo as the runtime feeds this model: one input, or one per
    OPEN_SIZES for open H/W (see the module docstring)."""
    from PIL import Image

    from edgephoto.runtime.image_io import load_sample
    from edgephoto.runtime.tasks.common import model_input

    rgb = load_sample("astronaut").rgb
    tensor = spec.inputs[0]
    axes = (1, 2) if tensor.layout == "NHWC" else (2, 3)
    dims = [tensor.shape[a] for a in axes]
    if None in dims:  # open H/W: whole photos of several sizes
        return [model_input(rgb[:h, :w], tensor) for h, w in OPEN_SIZES]
    h, w = int(dims[0]), int(dims[1])
    if spec.tile.mode == "tile":
        y, x = (rgb.shape[0] - h) // 2, (rgb.shape[1] - w) // 2
        return [model_input(rgb[y:y + h, x:x + w], tensor)]
    return [model_input(np.asarray(Image.fromarray(rgb).resize((w, h), Image.Resampling.BICUBIC)), tensor)]


def measure_model(model: str, engines: list[str], artifacts: Path, runs: int) -> dict[str, Any]:
    from edgephoto.api import zoo_artifact
    from edgephoto.runtime.artifact import load_artifact
    from edgephoto.zoo import get_model

    spec = get_model(model)
    feeds = real_inputs(spec)
    loaded, errors = {}, {}
    for name in engines:
        try:
            path = zoo_artifact(model, name, artifacts=artifacts,
                                progress=lambda m: print(f"  {m}", file=sys.stderr, flush=True))
            loaded[name] = load_artifact(path, backend=name, threads=1)[0]
        except Exception as exc:  # noqa: BLE001 - an engine that cannot build/load it is a result
            errors[name] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    times: dict[str, list[float]] = {n: [] for n in loaded}
    try:
        names = list(loaded)
        for name in names:  # warm-up
            for _ in range(2):
                for feed in feeds:
                    loaded[name].run({loaded[name].inputs()[0].name: feed})
        for round_ in range(runs):
            for name in names[round_ % len(names):] + names[:round_ % len(names)]:
                backend = loaded[name]
                started = time.perf_counter()
                for feed in feeds:
                    backend.run({backend.inputs()[0].name: feed})
                times[name].append((time.perf_counter() - started) * 1000)
    finally:
        for backend in loaded.values():
            backend.close()
    medians = {n: statistics.median(t) for n, t in times.items()}
    ranked = sorted(medians, key=medians.__getitem__)
    return {
        "model": model, "precision": "fp32", "input_shape": list(feeds[-1].shape), "runs": runs,
        "input_shapes": [list(f.shape) for f in feeds],
        "engines": [{"backend": n, "median_ms": round(medians[n], 4),
                     "p25_ms": round(float(np.percentile(times[n], 25)), 4),
                     "p75_ms": round(float(np.percentile(times[n], 75)), 4),
                     "vs_onnxruntime": round(medians[n] / medians["onnxruntime"], 3) if "onnxruntime" in medians else None}
                    for n in ranked],
        "errors": errors,
    }


def default_order(rows: list[dict[str, Any]], engines: list[str]) -> list[str]:
    """Engines by geometric-mean time relative to the fastest per model, over every model measured."""
    scores: dict[str, list[float]] = {n: [] for n in engines}
    for row in rows:
        best = row["engines"][0]["median_ms"] if row["engines"] else None
        for entry in row["engines"]:
            scores[entry["backend"]].append(math.log(entry["median_ms"] / best))
    measured = [n for n in engines if scores[n]]
    return sorted(measured, key=lambda n: sum(scores[n]) / len(scores[n]))


def merge_table(table_path: Path, data: dict[str, Any], results: Path = RESULTS) -> dict[str, Any]:
    """This run's rankings into the zoo's table; other CPU classes and models kept as they were."""
    from edgephoto.runtime.backends import BACKENDS

    table = json.loads(table_path.read_text()) if table_path.is_file() else {"schema": 1, "models": {}}
    klass = data["machine"]["cpu_class"]
    for row in data["rows"]:
        if not row["engines"]:
            continue
        entry = {"engines": [{"backend": e["backend"], "median_ms": e["median_ms"]} for e in row["engines"]],
                 "benchmark": "benchmarks/fastest_engine.py", "results": _repo_relative(results),
                 "date": data["date"], "cpu": data["machine"]["cpu_model"],
                 "input_shape": row["input_shape"]}
        if len(row.get("input_shapes", [])) > 1:
            entry["input_shapes"] = row["input_shapes"]
        table["models"].setdefault(row["model"], {}).setdefault(row["precision"], {})[klass] = entry
    order = data["default_order"]
    rest = [n for n, info in BACKENDS if info.target and n not in order]
    table["default_order"] = order + rest
    table["default_order_note"] = (
        f"engines by geometric-mean time relative to the fastest, over every model measured on {klass} "
        f"({data['date']}); engines not measured there follow in registration order. Used for a model or "
        "CPU class the table has no ranking for.")
    table["schema"] = 1
    return table


def _repo_relative(path: Path) -> str:
    path = path.resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def markdown(data: dict[str, Any]) -> str:
    m = data["machine"]
    lines = [
        "# Fastest engine per zoo model (backend=\"auto\")", "",
        f"{data['date']}, CPU class **{m['cpu_class']}** ({m['cpu_model']}), engines: "
        + ", ".join(f"{k} {v}" for k, v in m["engine_versions"].items()) + ".",
        f"fp32 artifacts, runtime backends with default options, 1 thread, real input (built-in "
        f"astronaut photo at the runtime's feed size; open-H/W models: one run = every listed size in turn), "
        f"median of {data['runs']} interleaved runs.", "",
    ]
    if data.get("conditions"):
        lines += [f"Conditions: {data['conditions']}", ""]
    lines += ["| model | input | fastest | ms per engine (median) | vs onnxruntime |", "|---|---|---|---|---|"]
    for row in data["rows"]:
        engines = row["engines"]
        cells = ", ".join(f"{e['backend']} {e['median_ms']:.2f}" for e in engines) or "-"
        ratio = ", ".join(f"{e['backend']} {e['vs_onnxruntime']:.2f}x" for e in engines if e["vs_onnxruntime"])
        failed = "; ".join(f"{k}: {v[:60]}" for k, v in row["errors"].items())
        shapes = row.get("input_shapes") or [row["input_shape"]]
        shown = " + ".join("x".join(map(str, shape)) for shape in shapes)
        lines.append(f"| {row['model']} | {shown} | "
                     f"{engines[0]['backend'] if engines else '-'} | {cells}{' (' + failed + ')' if failed else ''} | "
                     f"{ratio or '-'} |")
    lines += ["", f"Default order (for models/CPU classes without a ranking): {' > '.join(data['default_order'])}.",
              "", "Not measured: " + (", ".join(data["not_measured"]) or "-") + ". This file is one CPU class; "
              "src/edgephoto/zoo/fastest_engines.json holds every class measured (one results file each), "
              "and a class it has no ranking for takes the default order."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--artifacts", type=Path, default=Path("/tmp/edgephoto-fastest-engine"))
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--table", type=Path, default=None, help="zoo table to merge into (default: the shipped one)")
    parser.add_argument("--render", type=Path, help="re-render the Markdown of a results JSON")
    parser.add_argument("--conditions", default="", help="what else ran on the machine, kept with the results")
    args = parser.parse_args()
    from edgephoto.manifest import write_json_atomic
    from edgephoto.runtime.backends import BACKENDS, engine_missing
    from edgephoto.runtime.devices import cpu_facts, probe_engine
    from edgephoto.zoo.fastest import TABLE_PATH, cpu_class

    if args.render:
        data = json.loads(args.render.read_text())
        args.render.with_suffix(".md").write_text(markdown(data))
        return
    engines = [n for n, info in BACKENDS if info.target and engine_missing(n) is None]
    not_installed = [f"{n} ({engine_missing(n)})" for n, info in BACKENDS if info.target and engine_missing(n)]
    models = [m for m in args.models.split(",") if m] or default_models()
    facts = cpu_facts()
    data: dict[str, Any] = {
        "date": datetime.date.today().isoformat(), "runs": args.runs,
        "machine": {"cpu_class": cpu_class(facts), "cpu_model": facts["model"], "flags": facts["flags"],
                    "engine_versions": {n: probe_engine(n).get("version") for n in engines}},
        "not_measured": not_installed, "rows": [], "conditions": args.conditions,
    }
    for model in models:
        print(f"{model}: {', '.join(engines)}", file=sys.stderr, flush=True)
        data["rows"].append(measure_model(model, engines, args.artifacts, args.runs))
        data["default_order"] = default_order(data["rows"], engines)
        write_json_atomic(args.out, data)
        args.out.with_suffix(".md").write_text(markdown(data))
    table_path = args.table or TABLE_PATH
    write_json_atomic(table_path, merge_table(table_path, data, args.out))


if __name__ == "__main__":
    main()
