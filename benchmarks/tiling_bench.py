"""Tiling quality and memory on real models, through edgephoto.runtime backends. Writes JSON.

    python benchmarks/tiling_bench.py --out tiling_bench.json [--parts seams,depth,memory]

seams  : esrgan-slim-x4 (ONNX built by `edgephoto convert`, run by the onnxruntime backend) on
         the sample photos: tiled vs untiled PSNR (untiled = one run on the photo reflect-padded
         like the tiler; the fixed-size artifact is given dynamic H/W for that run), and the mean
         abs horizontal/vertical gradient on tile-border lines vs elsewhere, tiled and untiled.
depth  : FastDepth (LiteRT backend) on Middlebury motorcycle: per-tile Pearson with the global
         pass after alignment, RMSE before/after, and Spearman vs ground-truth disparity.
memory : a 4000x3000 photo upscaled x4 by esrgan-slim in a child process: peak RSS
         (ru_maxrss) vs the bytes that all tiles (inputs + outputs) would take.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
WEIGHTS = REPO.parent / "shared" / "weights"
SAMPLES = REPO / "src" / "edgephoto" / "data"


def artifact(model: str, work: Path) -> Path:
    """An ONNX artifact of a zoo model, built once by the product's own converter."""
    out = work / "artifacts"
    path = out / model / "onnx-fp32" / f"{model}.onnx"
    if not path.exists():
        env = {**os.environ, "EDGEPHOTO_WEIGHTS_PATH": str(WEIGHTS)}
        subprocess.run([sys.executable, "-m", "edgephoto.cli.main", "convert", "-m", model, "-t", "onnx",
                        "-o", str(out)], check=True, env=env, capture_output=True)
    return path


def dynamic_copy(path: Path) -> Path:
    """The same ONNX with symbolic N/H/W, for the untiled reference run only."""
    import onnx

    model = onnx.load(str(path))
    for value in [*model.graph.input, *model.graph.output]:
        dims = value.type.tensor_type.shape.dim
        for i, name in enumerate(("N", "H", "W")):
            dims[i].ClearField("dim_value")
            dims[i].dim_param = name
    del model.graph.value_info[:]
    out = path.with_name(path.stem + "-dynamic.onnx")
    onnx.save(model, str(out))
    return out


def border_lines(length: int, starts: list[int], tile: int, overlap: int, margin: int, scale: int) -> list[int]:
    """Output positions where a seam would show: tile edges, blend-ramp ends and centres."""
    lines = set()
    for start in starts[1:]:
        ramp_lo, ramp_hi = start + margin, start + overlap - margin
        for pos in (start, ramp_lo, (ramp_lo + ramp_hi) // 2, ramp_hi):
            lines.add(pos * scale)
    for start in starts[:-1]:
        lines.add((start + tile) * scale - 1)
    return sorted(p for p in lines if 0 < p < length * scale - 1)


def gradient_step(image: np.ndarray, rows: list[int], cols: list[int]) -> dict[str, float]:
    """Mean |gradient| across border lines over mean |gradient| elsewhere (1.0 = no seam)."""
    img = image.astype(np.float64).mean(axis=2)
    gx, gy = np.abs(np.diff(img, axis=1)), np.abs(np.diff(img, axis=0))
    col_mask = np.zeros(gx.shape[1], bool)
    col_mask[[c for c in cols if c < gx.shape[1]]] = True
    row_mask = np.zeros(gy.shape[0], bool)
    row_mask[[r for r in rows if r < gy.shape[0]]] = True
    out = {"x_ratio": float(gx[:, col_mask].mean() / gx[:, ~col_mask].mean()) if col_mask.any() else 1.0,
           "y_ratio": float(gy[row_mask].mean() / gy[~row_mask].mean()) if row_mask.any() else 1.0}
    return out


def bench_seams(work: Path) -> dict[str, Any]:
    from edgephoto.manifest import read_manifest
    from edgephoto.metrics import psnr
    from edgephoto.runtime.backends.base import load_backend
    from edgephoto.runtime.tasks.common import ModelFacts, run_model
    from edgephoto.runtime.tasks.upscale import upscale
    from edgephoto.runtime.tiling import axis_starts, margin_for, untiled

    path = artifact("esrgan-slim-x4", work)
    facts = ModelFacts.load(read_manifest(path.parent))
    tiled_backend = load_backend("onnxruntime", path, threads=2)
    whole_backend = load_backend("onnxruntime", dynamic_copy(path), threads=2)
    overlap = 2 * facts.overlap
    margin = margin_for(facts.receptive_field, overlap)
    results = []
    for name in ("chelsea", "coffee", "astronaut"):
        rgb = np.asarray(Image.open(SAMPLES / f"{name}.jpg").convert("RGB"))
        started = time.perf_counter()
        tiled = upscale(tiled_backend, facts, rgb, batch=1)
        seconds = time.perf_counter() - started
        assert tiled is not None
        whole = untiled(rgb, lambda t: run_model(whole_backend, facts, t)[0], overlap=overlap, scale=facts.scale)
        whole_u8 = np.clip(np.rint(whole), 0, 255).astype(np.uint8)
        plain = run_model(whole_backend, facts, rgb[None].astype(np.float32))[0][0]
        plain_u8 = np.clip(np.rint(plain), 0, 255).astype(np.uint8)
        h, w = rgb.shape[:2]
        rows = border_lines(h, axis_starts(h, facts.tile, overlap), facts.tile, overlap, margin, facts.scale)
        cols = border_lines(w, axis_starts(w, facts.tile, overlap), facts.tile, overlap, margin, facts.scale)
        grad_tiled = gradient_step(tiled, rows, cols)
        grad_whole = gradient_step(whole_u8, rows, cols)
        results.append({
            "photo": name, "size": [h, w], "tiles": len(axis_starts(h, facts.tile, overlap)) * len(axis_starts(w, facts.tile, overlap)),
            "psnr_tiled_vs_untiled_db": psnr(whole_u8, tiled),
            "max_abs_diff": int(np.abs(whole_u8.astype(int) - tiled).max()),
            "psnr_tiled_vs_untiled_no_border_pad_db": psnr(plain_u8, tiled),
            # border-line/elsewhere gradient ratios; ESRGAN's x4 output has its own 4-px period, so
            # the untiled output on the same lines is the control and the excess is the seam
            "gradient_ratio_tiled": grad_tiled,
            "gradient_ratio_untiled_same_lines": grad_whole,
            "seam_gradient_excess": {k: grad_tiled[k] / grad_whole[k] - 1.0 for k in grad_tiled},
            "seconds_tiled": round(seconds, 3),
        })
    return {"model": "esrgan-slim-x4", "backend": tiled_backend.describe(), "overlap": overlap,
            "margin": margin, "photos": results}


def bench_depth() -> dict[str, Any]:
    import skimage

    from edgephoto.metrics import spearman
    from edgephoto.runtime.backends.base import load_backend
    from edgephoto.runtime.tasks.depth import estimate_depth
    from edgephoto.zoo import get_model

    data = Path(skimage.__file__).parent / "data"
    rgb = np.asarray(Image.open(data / "motorcycle_left.png").convert("RGB"))
    disparity = np.load(data / "motorcycle_disp.npz")["arr_0"]
    valid = np.isfinite(disparity) & (disparity > 0)
    backend = load_backend("litert", WEIGHTS / "depth" / "fast_depth_224.tflite", threads=2)
    facts = get_model("fastdepth").to_dict()
    scale, zero = backend.interpreter.get_output_details()[0]["quantization"]
    facts["outputs"][0]["quantization"] = {"scale": float(scale), "zero_point": int(zero)}
    runs = []
    for detail in (1.0, 2.0, 3.0):
        started = time.perf_counter()
        result = estimate_depth(backend, facts, rgb, detail=detail)
        seconds = time.perf_counter() - started
        tiles = result.tiles
        runs.append({
            "detail": detail, "tiles": len(tiles), "seconds": round(seconds, 3),
            "tile_pearson_vs_global_mean": float(np.mean([t["pearson"] for t in tiles])) if tiles else None,
            "tile_pearson_vs_global_min": float(np.min([t["pearson"] for t in tiles])) if tiles else None,
            "tile_rmse_raw_mean_m": float(np.mean([t["rmse_raw"] for t in tiles])) if tiles else None,
            "tile_rmse_aligned_mean_m": float(np.mean([t["rmse_aligned"] for t in tiles])) if tiles else None,
            "blended_vs_global_pearson": float(np.corrcoef(result.depth.ravel(), result.global_depth.ravel())[0, 1]),
            "spearman_vs_gt_disparity": spearman(-result.depth[valid], disparity[valid]),
        })
    return {"model": "fastdepth", "photo": "motorcycle_left", "size": list(rgb.shape[:2]),
            "backend": backend.describe(), "runs": runs}


def child_memory(path: str, height: int, width: int, stream: bool) -> dict[str, Any]:
    """Runs in a fresh process so ru_maxrss is this job's own peak."""
    from edgephoto.manifest import read_manifest
    from edgephoto.runtime.backends.base import load_backend
    from edgephoto.runtime.tasks.common import ModelFacts
    from edgephoto.runtime.tasks.upscale import upscale
    from edgephoto.runtime.tiling import tile_grid

    facts = ModelFacts.load(read_manifest(Path(path).parent))
    backend = load_backend("onnxruntime", path, threads=2)
    photo = Image.open(SAMPLES / "astronaut.jpg").convert("RGB").resize((width, height), Image.Resampling.BICUBIC)
    rgb = np.asarray(photo)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    s, overlap = facts.scale, 2 * facts.overlap
    tiles = len(tile_grid(height, width, facts.tile, overlap))
    started = time.perf_counter()
    checksum = [0]
    with tempfile.TemporaryFile() as handle:
        def write(y: int, rows: np.ndarray) -> None:
            handle.write(rows.tobytes())
            checksum[0] += int(rows[:, ::97].sum())

        out = upscale(backend, facts, rgb, batch=1, sink=write if stream else None)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    in_bytes, out_bytes = tiles * facts.tile**2 * 3 * 4, tiles * (facts.tile * s) ** 2 * 3 * 4
    return {
        "photo_size": [height, width], "scale": s, "tiles": tiles, "stream_to_disk": stream,
        "seconds": round(seconds, 1), "peak_rss_bytes": peak, "rss_before_tiling_bytes": baseline,
        "all_tile_inputs_bytes": in_bytes, "all_tile_outputs_bytes": out_bytes,
        "all_tiles_bytes": in_bytes + out_bytes,
        "output_uint8_bytes": height * s * width * s * 3,
        "peak_over_all_tiles": peak / (in_bytes + out_bytes),
        "result_shape": list(out.shape) if out is not None else None,
    }


def bench_memory(work: Path, height: int, width: int) -> list[dict[str, Any]]:
    path = artifact("esrgan-slim-x4", work)
    runs = []
    for stream in (False, True):
        cmd = [sys.executable, __file__, "--child-memory", str(path), str(height), str(width), str(int(stream))]
        done = subprocess.run(cmd, check=True, capture_output=True, text=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return runs


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child-memory":
        path, height, width, stream = sys.argv[2:6]
        print(json.dumps(child_memory(path, int(height), int(width), bool(int(stream)))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="tiling_bench.json")
    parser.add_argument("--parts", default="seams,depth,memory")
    parser.add_argument("--work", default=None, help="directory for built artifacts (reused)")
    parser.add_argument("--size", default="3000x4000", help="memory photo HxW")
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="tiling-bench-"))
    parts = args.parts.split(",")
    report: dict[str, Any] = {"created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if "seams" in parts:
        report["seams"] = bench_seams(work)
    if "depth" in parts:
        report["depth"] = bench_depth()
    if "memory" in parts:
        height, width = (int(v) for v in args.size.split("x"))
        report["memory"] = bench_memory(work, height, width)
    out = Path(args.out)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(json.dumps(report, indent=2, default=str) + "\n")
    os.replace(tmp, out)


if __name__ == "__main__":
    main()
