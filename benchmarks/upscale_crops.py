"""x4 upscalers side by side: crops a person can judge, PSNR/SSIM and a no-reference sharpness.

    nice -n 10 python benchmarks/upscale_crops.py [--models fsrcnn-x4,esrgan-thick-x4,...]
    python benchmarks/upscale_crops.py --render benchmarks/results/upscale_crops.json

Real-ESRGAN is GAN-trained: it draws plausible detail instead of the most likely pixels, so PSNR
ranks it below bicubic (realesrgan_set5.md) and only eyes can judge it. For each photo, every
model upscales the same low-resolution image; one crop of each output is laid out in a grid
(benchmarks/results/upscale_crops.png), columns bicubic | models... | HR.

Photos: Set5 (HR known: LR by PIL bicubic /4, the data README's protocol; PSNR-Y and SSIM-Y with
4 px shaved) and two shared portraits upscaled as they are (no HR: sharpness only). Sharpness is
edgephoto.metrics.sharpness (mean Sobel gradient of luma) over the whole output, beside the
HR's own figure: a blurry output reads below the HR, an over-sharpened or noisy one above.
Every model runs its fp32 ONNX artifact on onnxruntime, 1 thread, tiled as the runtime tiles.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
RESULTS = REPO / "benchmarks" / "results"
SCALE = 4
CROP = 160  # output px per grid cell (40 LR px): small enough to see single pixels when zoomed
MODELS = "fsrcnn-x4,esrgan-thick-x4,realesr-animevideov3-x4,realesrgan-x4plus,realesrgan-x4plus-anime"
PORTRAITS = (1, 101)  # shared portraits upscaled as they are (no HR)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def photos() -> list[dict[str, Any]]:
    """name, LR image, HR (or None), and the LR crop box's centre (the HR centre for Set5)."""
    from edgephoto.metrics import sr_pair

    listed = []
    for path in sorted((SHARED / "sr" / "set5").glob("*.png")):
        hr, lr = sr_pair(np.asarray(Image.open(path).convert("RGB")), SCALE)
        listed.append({"name": f"set5/{path.stem}", "lr": lr, "hr": hr})
    for number in PORTRAITS:
        rgb = np.asarray(Image.open(SHARED / "portraits" / "images" / f"{number}.jpg").convert("RGB"))
        listed.append({"name": f"portrait {number}", "lr": rgb, "hr": None})
    return listed


def bicubic(lr: np.ndarray) -> np.ndarray:
    from edgephoto.metrics import bicubic_upscale

    return bicubic_upscale(lr, SCALE)


def crop_box(shape: tuple[int, ...]) -> tuple[int, int]:
    """Top-left of the CROP x CROP cell: the output's centre (Set5's subjects are centred; the
    portraits' faces sit in the upper middle), on the LR grid so every column shows the same
    pixels."""
    h, w = shape[:2]
    top = max(0, min(h - CROP, (h * 2 // 5 - CROP // 2) // SCALE * SCALE))
    left = max(0, min(w - CROP, (w // 2 - CROP // 2) // SCALE * SCALE))
    return top, left


def measure(models: list[str], artifacts: Path) -> tuple[dict[str, Any], dict[str, list[np.ndarray]]]:
    import edgephoto
    from edgephoto.api import zoo_artifact
    from edgephoto.metrics import psnr_y, rgb_to_luma, sharpness, shave, ssim

    images = photos()
    uppers: dict[str, Any] = {"bicubic": bicubic}
    opened = []
    failed = {}
    for model in models:
        try:
            path = zoo_artifact(model, "onnxruntime", artifacts=artifacts, progress=log)
        except Exception as exc:  # a model that does not build is a result, not a crash
            failed[model] = f"{type(exc).__name__}: {str(exc)[:200]}"
            continue
        net = edgephoto.load(path, backend="onnxruntime", threads=1)
        opened.append(net)
        uppers[model] = net
    rows: dict[str, Any] = {}
    crops: dict[str, list[np.ndarray]] = {}
    try:
        for image in images:
            lr, hr = image["lr"], image["hr"]
            entry: dict[str, Any] = {"lr_size": [int(lr.shape[1]), int(lr.shape[0])], "methods": {}}
            if hr is not None:
                entry["hr_sharpness"] = round(sharpness(hr, SCALE), 3)
            cells = []
            top, left = crop_box((lr.shape[0] * SCALE, lr.shape[1] * SCALE))
            for name, upper in uppers.items():
                log(f"{image['name']}: {name}")
                started = time.perf_counter()
                out = np.asarray(upper(lr))
                seconds = time.perf_counter() - started
                scores: dict[str, Any] = {"s": round(seconds, 2), "sharpness": round(sharpness(out, SCALE), 3)}
                if hr is not None:
                    scores["psnr_y"] = round(psnr_y(hr, out, SCALE), 3)
                    scores["ssim_y"] = round(ssim(shave(rgb_to_luma(hr), SCALE), shave(rgb_to_luma(out), SCALE)), 4)
                entry["methods"][name] = scores
                cells.append(out[top : top + CROP, left : left + CROP])
            if hr is not None:
                cells.append(hr[top : top + CROP, left : left + CROP])
            rows[image["name"]] = entry
            crops[image["name"]] = cells
    finally:
        for net in opened:
            net.close()
    data = {"date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "cpu": platform.processor() or platform.machine(), "scale": SCALE, "crop": CROP,
            "columns": list(uppers) + ["HR"], "photos": rows, "failed": failed}
    return data, crops


def grid(columns: list[str], crops: dict[str, list[np.ndarray]]) -> Image.Image:
    """One row per photo, one labelled column per method; the portraits have no HR cell."""
    label_h, name_w, gap = 18, 110, 4
    sheet = Image.new("RGB", (name_w + len(columns) * (CROP + gap), label_h + len(crops) * (CROP + gap)), "white")
    draw = ImageDraw.Draw(sheet)
    for k, column in enumerate(columns):
        draw.text((name_w + k * (CROP + gap) + 2, 3), column, fill="black")
    for r, (name, cells) in enumerate(crops.items()):
        y = label_h + r * (CROP + gap)
        draw.text((4, y + CROP // 2 - 6), name, fill="black")
        for k, cell in enumerate(cells):
            sheet.paste(Image.fromarray(np.ascontiguousarray(cell)), (name_w + k * (CROP + gap), y))
    return sheet


def markdown(data: dict[str, Any]) -> str:
    methods = [c for c in data["columns"] if c != "HR"]
    lines = ["# x4 upscalers side by side: crops, PSNR/SSIM and sharpness", "",
             f"{data['date']}, {data['cpu']}; fp32 ONNX artifacts on onnxruntime, 1 thread. Set5: LR by PIL bicubic "
             f"/{data['scale']}, PSNR-Y / SSIM-Y with {data['scale']} px shaved. Sharpness: mean Sobel gradient of luma "
             "over the whole output (no reference needed; the HR's own figure beside it). Portraits: upscaled as they "
             "are, no HR.", "",
             f"![crops: {' | '.join(data['columns'])}](upscale_crops.png)", "",
             f"Crops ({data['crop']} px of the output, same pixels in every column): {' | '.join(data['columns'])}.", "",
             "| photo | HR sharpness | " + " | ".join(methods) + " |",
             "|---|---|" + "---|" * len(methods)]
    for name, row in data["photos"].items():
        cells = []
        for method in methods:
            s = row["methods"].get(method)
            if s is None:
                cells.append("-")
                continue
            quality = f"{s['psnr_y']:.2f} dB / {s['ssim_y']:.3f}, " if "psnr_y" in s else ""
            cells.append(f"{quality}sharp {s['sharpness']:.2f}, {s['s']:.1f} s")
        lines.append(f"| {name} | {row.get('hr_sharpness', '-')} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Each cell: PSNR-Y / SSIM-Y (Set5), sharpness, seconds for the whole image (1 thread).")
    for model, why in data.get("failed", {}).items():
        lines.append(f"- {model} did not build: {why}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=MODELS)
    parser.add_argument("--artifacts", type=Path, default=Path("/tmp/edgephoto-upscale-crops"))
    parser.add_argument("--out", type=Path, default=RESULTS / "upscale_crops.json")
    parser.add_argument("--render", type=Path, help="re-render the Markdown from a JSON of an earlier run")
    args = parser.parse_args()
    from edgephoto.files import write_bytes_atomic
    from edgephoto.manifest import write_json_atomic

    if args.render:
        data = json.loads(args.render.read_text())
    else:
        data, crops = measure([m for m in args.models.split(",") if m], args.artifacts)
        write_json_atomic(args.out, data)
        import io

        buffer = io.BytesIO()
        grid(data["columns"], crops).save(buffer, "PNG", optimize=True)
        write_bytes_atomic(args.out.with_suffix(".png"), buffer.getvalue())
    write_bytes_atomic(args.out.with_suffix(".md"), markdown(data).encode())
    log(f"wrote {args.out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
