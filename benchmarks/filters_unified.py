"""One box filter and one guided filter in the runtime: outputs and speed before vs after.

Before, runtime/refine.py (masks: guided_upsample) and runtime/photo/filters.py (denoise, blurs)
each had a box filter and a guided filter, with different edge rules: refine's mean over the
window clipped to the image (normalised by count), filters' mean over a reflect-padded window.
Now photo/filters.py has one of each, with the clipped-window mean. The before code is read
from git (--before, the last commit with two copies) and run beside the current code:

  quality   denoise (sigma-10 noise added, as tests/runtime/test_photo.py does) on the built-in
            photos and portraits 1, 5, 61, 78: before vs after max/mean |diff| (0..255) and PSNR
            of after vs before; guided_upsample of the selfie model's mask (litert) on portraits
            1-30 and the built-in photos: max/mean |diff| and IoU (mask > 0.5) vs the ground
            truth before and after; gaussian_blur / disc_blur before vs after.
  speed     guided_upsample on a 12 MP photo and denoise on a 2 MP photo, before and after
            interleaved round by round, medians, pinned to core 0 (as taskset -c 0).

    EDGEPHOTO_WEIGHTS_PATH=/work/shared/weights taskset -c 0 .venv/bin/python benchmarks/filters_unified.py

Writes benchmarks/results/filters_unified.{json,md}.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PORTRAITS = ROOT.parent / "shared" / "data" / "portraits"
RESULTS = ROOT / "benchmarks" / "results"
SAMPLES = ("astronaut", "coffee", "chelsea", "rocket")


def before_modules(rev: str) -> dict[str, types.ModuleType]:
    """refine, filters and noise as they were at `rev`, as modules beside the current ones."""
    def source(path: str) -> str:
        return subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:src/edgephoto/{path}"],
                              check=True, capture_output=True, text=True).stdout

    def load(name: str, path: str) -> types.ModuleType:
        module = types.ModuleType(f"before_{name}")
        exec(compile(source(path), f"{rev}:{path}", "exec"), module.__dict__)
        return module

    import edgephoto.runtime.photo.filters as current

    filters = load("filters", "runtime/photo/filters.py")
    key = "edgephoto.runtime.photo.filters"
    sys.modules[key] = filters  # the old noise.py imports the old filters
    try:
        noise = load("noise", "runtime/photo/noise.py")
    finally:
        sys.modules[key] = current
    return {"refine": load("refine", "runtime/refine.py"), "filters": filters, "noise": noise}


def add_noise(rgb: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    noisy = rgb + np.random.default_rng(seed).normal(0.0, sigma, rgb.shape)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def diff(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    d = np.abs(a.astype(np.float64) - b.astype(np.float64))
    return {"max_abs": float(d.max()), "mean_abs": float(d.mean()), "changed_fraction": float((d > 0).mean())}


def photos() -> dict[str, np.ndarray]:
    from edgephoto.runtime.image_io import load_sample, read_photo

    out = {name: load_sample(name).rgb for name in SAMPLES}
    out.update({f"portrait {i}": read_photo(PORTRAITS / "images" / f"{i}.jpg").rgb for i in (1, 5, 61, 78)})
    return out


def denoise_quality(old: types.ModuleType) -> dict[str, Any]:
    from edgephoto.metrics import psnr
    from edgephoto.runtime.photo import denoise

    rows = {}
    for seed, (name, rgb) in enumerate(photos().items()):
        noisy = add_noise(rgb, 10.0, seed)
        before, params = old.denoise(noisy)
        after, _ = denoise(noisy)
        band = np.ones(rgb.shape[:2], bool)  # where the edge rule reaches: two chroma windows deep
        k = 2 * params["radius_chroma"] + 2
        band[k:-k, k:-k] = False
        rows[name] = {**diff(after, before), "psnr_after_vs_before": float(psnr(before, after)),
                      "psnr_vs_clean_before": float(psnr(rgb, before)), "psnr_vs_clean_after": float(psnr(rgb, after)),
                      "border_px": k, "changed_px_inside": int((after != before).any(axis=2)[~band].sum()),
                      "border_psnr_vs_clean_before": float(psnr(rgb[band], before[band])),
                      "border_psnr_vs_clean_after": float(psnr(rgb[band], after[band]))}
    return rows


def blur_quality(old: types.ModuleType) -> dict[str, Any]:
    from edgephoto.runtime.photo.filters import disc_blur, gaussian_blur

    rows, images = {}, photos()
    for name in SAMPLES:
        rgb = images[name].astype(np.float32)
        for label, new_f, old_f, arg, band in (("gaussian_blur", gaussian_blur, old.gaussian_blur, 6.0, 3 * 6),
                                               ("disc_blur", disc_blur, old.disc_blur, 12.0, 12)):
            a, b = new_f(rgb, arg), old_f(rgb, arg)
            inner = (slice(band, -band), slice(band, -band))
            rows[f"{label} {name}"] = {**diff(a, b), "interior_max_abs": diff(a[inner], b[inner])["max_abs"]}
    return rows


def selfie() -> Callable[[np.ndarray], np.ndarray]:
    from edgephoto.runtime.backends.base import load_backend
    from edgephoto.runtime.tasks.segmentation import low_res_mask
    from edgephoto.zoo import get_model
    from edgephoto.zoo.weights import resolve

    spec = get_model("selfie")
    backend = load_backend("litert", resolve(spec) / spec.files[0].path, threads=1)
    return lambda rgb: low_res_mask(backend, spec, rgb)


def iou(mask: np.ndarray, truth: np.ndarray) -> float:
    binary = mask > 0.5
    return float((binary & truth).sum() / max((binary | truth).sum(), 1))


def mask_quality(old: types.ModuleType, model: Callable[[np.ndarray], np.ndarray], limit: int) -> dict[str, Any]:
    from edgephoto.runtime.image_io import read_photo
    from edgephoto.runtime.refine import guided_upsample

    rows, before_iou, after_iou = {}, [], []
    for i in range(1, limit + 1):
        rgb = read_photo(PORTRAITS / "images" / f"{i}.jpg").rgb
        truth_img = Image.open(PORTRAITS / "masks" / f"{i}.png").convert("L")
        truth = np.asarray(truth_img.resize((rgb.shape[1], rgb.shape[0]), Image.Resampling.NEAREST)) > 127
        low = model(rgb)
        before, after = old.guided_upsample(rgb, low), guided_upsample(rgb, low)
        before_iou.append(iou(before, truth))
        after_iou.append(iou(after, truth))
        rows[f"portrait {i}"] = {**diff(after, before), "iou_before": before_iou[-1], "iou_after": after_iou[-1]}
    for name, rgb in photos().items():
        if name in SAMPLES:
            low = model(rgb)
            rows[name] = diff(guided_upsample(rgb, low), old.guided_upsample(rgb, low))
    worst = max(rows.values(), key=lambda r: r["max_abs"])
    return {"per_photo": rows, "mean_iou_before": float(np.mean(before_iou)), "mean_iou_after": float(np.mean(after_iou)),
            "max_abs_any": worst["max_abs"], "mean_abs_mean": float(np.mean([r["mean_abs"] for r in rows.values()]))}


def interleaved(calls: dict[str, Callable[[], Any]], repeats: int) -> dict[str, dict[str, float]]:
    """Each round runs every call once, in turn (ABBA); wall and CPU medians over the rounds (CPU time
    is the steadier one on a shared machine: it leaves out time spent descheduled)."""
    for call in calls.values():
        call()  # warm-up: caches, page faults
    wall: dict[str, list[float]] = {name: [] for name in calls}
    cpu: dict[str, list[float]] = {name: [] for name in calls}
    for round_ in range(repeats):  # the order flips every round: neither side always runs after the other
        for name in list(calls) if round_ % 2 == 0 else list(calls)[::-1]:
            call = calls[name]
            started, cpu_started = time.perf_counter(), time.process_time()
            call()
            wall[name].append(time.perf_counter() - started)
            cpu[name].append(time.process_time() - cpu_started)
    return {name: {"median_s": float(np.median(wall[name])), "min_s": float(np.min(wall[name])),
                   "max_s": float(np.max(wall[name])), "cpu_median_s": float(np.median(cpu[name]))}
            for name in calls}


def speed(old: dict[str, types.ModuleType], model: Callable[[np.ndarray], np.ndarray], repeats: int) -> dict[str, Any]:
    from edgephoto.runtime.image_io import read_photo
    from edgephoto.runtime.photo import denoise
    from edgephoto.runtime.photo.colour import rgb_to_ycbcr
    from edgephoto.runtime.photo.filters import guided_filter
    from edgephoto.runtime.refine import guided_upsample

    base = Image.fromarray(read_photo(PORTRAITS / "images" / "1.jpg").rgb)
    big = np.asarray(base.resize((4000, 3000), Image.Resampling.BICUBIC))  # 12 MP
    low = model(big)
    two = add_noise(np.asarray(base.resize((1732, 1155), Image.Resampling.BICUBIC)), 10.0, 0)  # 2 MP
    upsample = interleaved({"before": lambda: old["refine"].guided_upsample(big, low),
                            "after": lambda: guided_upsample(big, low)}, repeats)
    noise = interleaved({"before": lambda: old["noise"].denoise(two), "after": lambda: denoise(two)}, repeats)
    ycc = rgb_to_ycbcr(two)  # denoise's two filter calls alone (sigma 10: radii 3 and 7)
    y, chroma = ycc[..., 0], ycc[..., 1:]

    def filters(guided: Callable[..., np.ndarray]) -> Callable[[], Any]:
        return lambda: guided(guided(y, y, 3, 256.0), chroma, 7, 900.0)

    alone = interleaved({"before": filters(old["filters"].guided_filter), "after": filters(guided_filter)}, repeats)
    return {"guided_upsample_12mp": {"photo": list(big.shape), "mask": list(low.shape), **upsample},
            "denoise_2mp": {"photo": list(two.shape), **noise},
            "denoise_filters_2mp": {"photo": list(two.shape), **alone}}


def markdown(result: dict[str, Any]) -> str:
    lines = ["# One box filter and one guided filter: before vs after", "",
             f"Before: `{result['before']}` (two copies); after: the working tree. {result['platform']}.",
             "Edge rule now everywhere: mean over the window clipped to the image (normalised by count).", "",
             f"## Speed (pinned to core 0, interleaved, medians of {result['repeats']} rounds)", "",
             "| call | before s | after s | after/before | CPU before s | CPU after s | CPU after/before |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, row in result["speed"].items():
        b, a = row["before"]["median_s"], row["after"]["median_s"]
        cb, ca = row["before"]["cpu_median_s"], row["after"]["cpu_median_s"]
        lines.append(f"| {name} {row['photo'][1]}x{row['photo'][0]} | {b:.3f} | {a:.3f} | {a / b:.2f} | "
                     f"{cb:.3f} | {ca:.3f} | {ca / cb:.2f} |")
    m = result["masks"]
    lines += ["", f"## guided_upsample (selfie mask, litert), portraits 1-{result['limit']} and built-in photos", "",
              f"IoU vs ground truth (mask > 0.5), mean over portraits: before {m['mean_iou_before']:.4f}, "
              f"after {m['mean_iou_after']:.4f}. Largest |diff| on any photo {m['max_abs_any']:.2e}, "
              f"mean |diff| {m['mean_abs_mean']:.2e} (0..1 scale).", "",
              "## denoise (sigma 10 added), after vs before", "",
              "PSNR in dB; border: the band `border px` wide where the edge rule reaches; inside: pixels changed"
              " inside it (float rounding).", "",
              "| photo | max abs | mean abs | changed | PSNR after vs before | PSNR vs clean before / after |"
              " border px | border PSNR vs clean before / after | inside |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, row in result["denoise"].items():
        lines.append(f"| {name} | {row['max_abs']:.0f} | {row['mean_abs']:.4f} | {row['changed_fraction']:.4f} | "
                     f"{row['psnr_after_vs_before']:.1f} | {row['psnr_vs_clean_before']:.2f} / "
                     f"{row['psnr_vs_clean_after']:.2f} | {row['border_px']} | {row['border_psnr_vs_clean_before']:.2f}"
                     f" / {row['border_psnr_vs_clean_after']:.2f} | {row['changed_px_inside']} |")
    lines += ["", "## blurs (0..255 float), after vs before", "",
              "| blur, photo | max abs | mean abs | max abs away from the border |", "|---|---:|---:|---:|"]
    for name, row in result["blurs"].items():
        lines.append(f"| {name} | {row['max_abs']:.3f} | {row['mean_abs']:.4f} | {row['interior_max_abs']:.2e} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", default="dd07392e94669cf4f93c72de27aa41cf23cd20fd",
                        help="git revision with the two copies (default: the last one)")
    parser.add_argument("--limit", type=int, default=30, help="portraits 1..N for the mask IoU")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=RESULTS / "filters_unified")
    args = parser.parse_args()
    os.sched_setaffinity(0, {0})
    old = before_modules(args.before)
    model = selfie()
    result = {"before": args.before, "limit": args.limit, "repeats": args.repeats,
              "platform": f"{platform.machine()}, Python {platform.python_version()}, numpy {np.__version__}",
              "speed": speed(old, model, args.repeats), "masks": mask_quality(old["refine"], model, args.limit),
              "denoise": denoise_quality(old["noise"]), "blurs": blur_quality(old["filters"])}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
