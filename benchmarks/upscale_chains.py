"""Upscale chains on Set5: which model passes and final resample reach xN best per time.

    nice -n 10 python benchmarks/upscale_chains.py
    nice -n 10 python benchmarks/upscale_chains.py --set realesrgan --repeats 3 [--artifacts DIR]
        [--factors 4,6] [--models-like x4plus]
    python benchmarks/upscale_chains.py --render benchmarks/results/upscale_chains.json

Set5 with the data README's protocol (edgephoto.metrics.sr_pair): crop to a multiple of N, PIL
bicubic down by N, upscale, PSNR-Y BT.601 with N px shaved. Each candidate is a sequence of model
passes (float ONNX, onnxruntime, 1 thread, through the runtime's own upscale task) then one Pillow
resample to the HR size; 'none' is the resample alone. The row marked 'rule' is what the
pipeline's upscale step plans (edgephoto/runtime/scale_chain.py). ms = median over the 5 images
of one chain's time (with --repeats, of each image's best run). `--set fsrcnn` (default) writes upscale_chains.json; `--set realesrgan`
adds SSIM-Y and edgephoto.metrics.sharpness and writes upscale_chains_realesrgan.json, keeping
the rows of factors or models a run did not measure (so x4plus can run on its own).
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
RESULTS = REPO / "benchmarks" / "results"
FSRCNN: dict[int, list[tuple[int, ...]]] = {
    2: [(), (2,)],
    3: [(), (3,), (2,), (2, 2), (4,)],
    4: [(), (4,), (2,), (2, 2)],
    5: [(), (2, 3), (3, 2), (4,), (2,), (2, 2), (2, 2, 2)],
    6: [(), (2, 3), (3, 2), (4,), (2,), (2, 2), (2, 2, 2)],
    8: [(), (2, 4), (4, 2), (2,), (2, 2), (2, 2, 2)],
}
A2, A3, A4 = (f"realesr-animevideov3-x{s}" for s in (2, 3, 4))
PLUS, F2 = "realesrgan-x4plus", "fsrcnn-x2"
# Real-ESRGAN chains, with the rule's fsrcnn-x2 row and the resample alone beside them; an x4
# pass at x2/x3 is resampled down (what --model ...-x4 plans there). x4plus (RRDBNet, ~7x
# animevideov3's time per tile) only where its x4 is not thrown away: x4 and x6.
REALESRGAN: dict[int, list[tuple[str, ...]]] = {
    2: [(), (F2,), (A2,), (A4,)],
    3: [(), (F2,), (A3,), (A2,), (A4,)],
    4: [(), (F2,), (A4,), (A2,), (A2, A2), (PLUS,)],
    6: [(), (F2,), (A2, A3), (A3, A2), (A2,), (A3,), (A4,), (PLUS,)],
}
# set -> (candidates, filters tried after model passes, default output)
SETS: dict[str, tuple[dict[int, list[tuple[str, ...]]], tuple[str, ...], str]] = {
    "fsrcnn": ({f: [tuple(f"fsrcnn-x{s}" for s in c) for c in cs] for f, cs in FSRCNN.items()},
               ("lanczos", "bicubic"), "upscale_chains.json"),
    # one filter after model passes (the rule's): the slow passes run once per row
    "realesrgan": (REALESRGAN, ("lanczos",), "upscale_chains_realesrgan.json"),
}
FILTERS = {"lanczos": Image.Resampling.LANCZOS, "bicubic": Image.Resampling.BICUBIC}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def planned_by(factor: int, passes: tuple[str, ...], exact: bool, name: str) -> list[str]:
    """Which `edgephoto run --steps upscale --scale N` invocations plan this row: 'rule' (no
    --model) and/or '--model NAME' for each model the row uses."""
    from edgephoto.runtime.scale_chain import chain_models, plan_chain

    if not exact and name != "lanczos":
        return []
    found = []
    for model in [None, *dict.fromkeys(passes)]:
        chain = plan_chain(factor, 100, 100, chain_models(model))
        if tuple(p.model for p in chain.passes) == passes:
            found.append("rule" if model is None else f"--model {model}")
    return found


def measure(which: str, factors: list[int] | None, models_like: str | None, repeats: int = 1,
            artifacts: Path | None = None) -> dict[str, Any]:
    from edgephoto.api import zoo_artifact
    from edgephoto.metrics import psnr_y, rgb_to_luma, sharpness, shave, sr_pair, ssim
    from edgephoto.runtime.artifact import load_artifact
    from edgephoto.runtime.image_io import read_photo
    from edgephoto.runtime.tasks import TASKS
    from edgephoto.zoo import get_model

    candidates, filters, _ = SETS[which]
    models: dict[str, Any] = {}

    def model(name: str) -> Any:
        if name not in models:
            log(f"loading {name}")
            built = zoo_artifact(name, "onnxruntime", artifacts=artifacts, progress=log)
            models[name] = load_artifact(built, backend="onnxruntime", device="cpu", threads=1)
        return models[name]

    upscale = TASKS.get("upscale").run
    rows, hr_sharpness = [], {}
    for factor, chains in candidates.items():
        if factors and factor not in factors:
            continue
        pairs = [sr_pair(read_photo(path).rgb, factor) for path in sorted(SET5.glob("*.png"))]
        hr_sharpness[str(factor)] = round(statistics.mean(sharpness(hr, factor) for hr, _ in pairs), 3)
        for passes in chains:
            if models_like and passes and not any(models_like in p for p in passes):
                continue
            exact = int(np.prod([get_model(p).scale for p in passes] or [1])) == factor
            for name in FILTERS if not passes else filters:
                if exact and name != "lanczos":  # no resample runs: one row, not one per filter
                    continue
                scores, ssims, sharp, times = [], [], [], []
                for hr, lr in pairs:
                    size = (hr.shape[1], hr.shape[0])
                    best = float("inf")
                    for _ in range(repeats):  # the best of the repeats: a loaded machine only slows a run
                        started, image = time.perf_counter(), lr
                        for p in passes:
                            backend, manifest = model(p)
                            image = upscale(backend, manifest, image)
                        if (image.shape[1], image.shape[0]) != size:
                            image = np.asarray(Image.fromarray(image).resize(size, FILTERS[name]))
                        best = min(best, time.perf_counter() - started)
                    times.append(best)
                    scores.append(float(psnr_y(hr, image, factor)))
                    if which != "fsrcnn":  # the FSRCNN table predates these columns
                        ssims.append(ssim(shave(rgb_to_luma(hr), factor), shave(rgb_to_luma(image), factor)))
                        sharp.append(sharpness(image, factor))
                row = {"factor": factor, "passes": list(passes), "resample": None if exact else name,
                       "psnr_y": round(statistics.mean(scores), 3), "ms": round(1000 * statistics.median(times), 1),
                       "rule": "rule" in planned_by(factor, passes, exact, name)}
                if ssims:
                    row |= {"date": datetime.date.today().isoformat(), "ssim_y": round(statistics.mean(ssims), 4), "sharpness": round(statistics.mean(sharp), 3),
                            "planned_by": planned_by(factor, passes, exact, name)}
                rows.append(row)
                log(f"x{factor} {passes} {name}: {row['psnr_y']} dB, {row.get('ssim_y', '')} "
                    f"{row.get('sharpness', '')}, {row['ms']} ms")
    data: dict[str, Any] = {"date": datetime.date.today().isoformat(), "set": which,
                            "protocol": "Set5, PIL bicubic LR, PSNR-Y, N px shaved",
                            "engine": "onnxruntime fp32, 1 thread", "rows": rows}
    if repeats > 1:
        data["repeats"] = repeats
    if which != "fsrcnn":
        data |= {"protocol": "Set5, PIL bicubic LR (edgephoto.metrics.sr_pair); PSNR-Y and SSIM-Y with N px "
                             "shaved; sharpness = edgephoto.metrics.sharpness, N px shaved, mean over the 5",
                 "hr_sharpness": hr_sharpness}
    return data


def merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """`new` with the rows of `old` it did not re-measure kept (a run of some factors or models
    adds to the file), ordered by factor; each row has the date it was measured."""
    def key(row: dict[str, Any]) -> tuple[Any, ...]:
        return row["factor"], tuple(row["passes"]), row["resample"]

    measured = {key(r) for r in new["rows"]}
    kept = [r for r in old["rows"] if key(r) not in measured]
    rows = sorted(kept + new["rows"], key=lambda r: r["factor"])
    return {**new, "rows": rows, "hr_sharpness": {**old.get("hr_sharpness", {}), **new.get("hr_sharpness", {})}}


def markdown(data: dict[str, Any]) -> str:
    if data.get("set", "fsrcnn") == "fsrcnn":
        lines = [
            "# Upscale chains on Set5: model passes + one resample to the exact size",
            "",
            f"{data['date']}; {data['protocol']}; {data['engine']}; ms = median per image of the whole chain "
            "(a shared, loaded machine: read the times as ratios). 'rule' = what `edgephoto run --steps upscale "
            "--scale N` plans (edgephoto/runtime/scale_chain.py).",
            "",
            "| xN | passes | final resample | Set5 PSNR-Y | ms | rule |",
            "|---|---|---|---|---|---|",
        ]
        for row in data["rows"]:
            lines.append(f"| x{row['factor']} | {' + '.join(row['passes']) or 'none'} | {row['resample'] or '-'} | "
                         f"{row['psnr_y']:.3f} | {row['ms']} | {'**rule**' if row['rule'] else ''} |")
        return "\n".join(lines) + "\n"
    lines = [
        "# Upscale chains with Real-ESRGAN on Set5: quality per time",
        "",
        f"{data['protocol']}; {data['engine']}; ms = median over the 5 images of each image's best of "
        f"{data.get('repeats', 1)} runs of the whole chain (model passes + resample; a shared, loaded machine: "
        "read the times as ratios). 'planned by' = the `edgephoto run "
        "--steps upscale --scale N` invocation that runs the row (no --model: the rule, "
        "edgephoto/runtime/scale_chain.py). Real-ESRGAN is GAN-trained: a PSNR below bicubic is expected; "
        "sharpness says how much detail it draws (the HR's own figure is on each factor's first line).",
        "",
        "| xN | passes | final resample | Set5 PSNR-Y | SSIM-Y | sharpness | ms | planned by |",
        "|---|---|---|---|---|---|---|---|",
    ]
    factor = None
    for row in data["rows"]:
        if row["factor"] != factor:
            factor = row["factor"]
            lines.append(f"| x{factor} | HR (reference) | - | - | - | {data['hr_sharpness'][str(factor)]:.3f} | - | |")
        lines.append(f"| x{row['factor']} | {' + '.join(row['passes']) or 'none'} | {row['resample'] or '-'} | "
                     f"{row['psnr_y']:.3f} | {row['ssim_y']:.4f} | {row['sharpness']:.3f} | {row['ms']} | "
                     f"{', '.join(row['planned_by'])} |")
    dates = sorted({r["date"] for r in data["rows"]})
    lines += ["", f"Measured {', '.join(dates)}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--render", type=Path, help="re-render the Markdown from this JSON and stop")
    parser.add_argument("--set", choices=sorted(SETS), default="fsrcnn", help="which models' chains")
    parser.add_argument("--factors", help="comma list: measure only these factors (rows kept for the others)")
    parser.add_argument("--models-like", help="measure only chains with a model whose name contains this")
    parser.add_argument("--repeats", type=int, default=1, help="runs per image; ms is the best of them")
    parser.add_argument("--artifacts", type=Path, help="artifact dir (built there if missing); default: the zoo cache")
    parser.add_argument("--out", type=Path, help="default: benchmarks/results/<the set's file>")
    args = parser.parse_args()
    if args.render:
        args.render.with_suffix(".md").write_text(markdown(json.loads(args.render.read_text())))
        return
    out = args.out or RESULTS / SETS[args.set][2]
    factors = [int(f) for f in args.factors.split(",")] if args.factors else None
    data = measure(args.set, factors, args.models_like, args.repeats, args.artifacts)
    if args.set != "fsrcnn" and out.exists():
        data = merge(json.loads(out.read_text()), data)
    out.write_text(json.dumps(data, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(data))


if __name__ == "__main__":
    main()
