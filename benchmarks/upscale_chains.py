"""Upscale chains on Set5: which model passes and final resample reach xN best per time.

    nice -n 10 python benchmarks/upscale_chains.py
    python benchmarks/upscale_chains.py --render benchmarks/results/upscale_chains.json

Set5 with the data README's protocol: crop to a multiple of N, PIL bicubic down by N, upscale,
PSNR-Y BT.601 with N px shaved. Each candidate is a sequence of FSRCNN passes (float ONNX,
onnxruntime, 1 thread, through the runtime's own upscale task) then one Pillow resample to the
HR size; 'none' is the resample alone. The row marked 'rule' is what the pipeline's upscale step
plans (edgephoto/runtime/scale_chain.py). ms = median over the 5 images of one chain's time.
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
RESULTS = REPO / "benchmarks" / "results" / "upscale_chains.json"
CANDIDATES: dict[int, list[tuple[int, ...]]] = {
    2: [(), (2,)],
    3: [(), (3,), (2,), (2, 2), (4,)],
    4: [(), (4,), (2,), (2, 2)],
    5: [(), (2, 3), (3, 2), (4,), (2,), (2, 2), (2, 2, 2)],
    6: [(), (2, 3), (3, 2), (4,), (2,), (2, 2), (2, 2, 2)],
    8: [(), (2, 4), (4, 2), (2,), (2, 2), (2, 2, 2)],
}
FILTERS = {"lanczos": Image.Resampling.LANCZOS, "bicubic": Image.Resampling.BICUBIC}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def measure() -> dict[str, Any]:
    from edgephoto.api import zoo_artifact
    from edgephoto.metrics import psnr_y
    from edgephoto.runtime.artifact import load_artifact
    from edgephoto.runtime.image_io import read_photo
    from edgephoto.runtime.scale_chain import plan_chain
    from edgephoto.runtime.tasks import TASKS

    models = {s: load_artifact(zoo_artifact(f"fsrcnn-x{s}", "onnxruntime"), backend="onnxruntime",
                               device="cpu", threads=1) for s in (2, 3, 4)}
    upscale = TASKS.get("upscale").run
    rows = []
    for factor, candidates in CANDIDATES.items():
        rule = tuple(p.scale for p in plan_chain(factor, 100, 100).passes)
        for passes in candidates:
            exact = int(np.prod(passes or (1,))) == factor
            for name, resample in FILTERS.items():
                if exact and name != "lanczos":  # no resample runs: one row, not one per filter
                    continue
                scores, times = [], []
                for path in sorted(SET5.glob("*.png")):
                    hr = read_photo(path).rgb
                    hr = hr[: hr.shape[0] // factor * factor, : hr.shape[1] // factor * factor]
                    size = (hr.shape[1], hr.shape[0])
                    image = np.asarray(Image.fromarray(hr).resize((size[0] // factor, size[1] // factor),
                                                                  Image.Resampling.BICUBIC))
                    started = time.perf_counter()
                    for s in passes:
                        backend, manifest = models[s]
                        image = upscale(backend, manifest, image)
                    if (image.shape[1], image.shape[0]) != size:
                        image = np.asarray(Image.fromarray(image).resize(size, resample))
                    times.append(time.perf_counter() - started)
                    scores.append(float(psnr_y(hr, image, factor)))
                rows.append({"factor": factor, "passes": [f"fsrcnn-x{s}" for s in passes],
                             "resample": None if exact else name,
                             "psnr_y": round(statistics.mean(scores), 3),
                             "ms": round(1000 * statistics.median(times), 1),
                             "rule": passes == rule and (exact or name == "lanczos")})
                log(f"x{factor} {passes} {name}: {rows[-1]['psnr_y']} dB, {rows[-1]['ms']} ms")
    return {"date": datetime.date.today().isoformat(), "protocol": "Set5, PIL bicubic LR, PSNR-Y, N px shaved",
            "engine": "onnxruntime fp32, 1 thread", "rows": rows}


def markdown(data: dict[str, Any]) -> str:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--render", type=Path, help="re-render the Markdown from this JSON and stop")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.render:
        args.render.with_suffix(".md").write_text(markdown(json.loads(args.render.read_text())))
        return
    data = measure()
    args.out.write_text(json.dumps(data, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(data))


if __name__ == "__main__":
    main()
