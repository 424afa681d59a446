"""The Python runtime's outputs on the demo's photo, for the browser tests to compare against.

Runs the staged artifacts (web_demo/artifacts/index.json) through edgephoto's own task
functions on onnxruntime (1 thread) and writes raw little-endian outputs plus a JSON index:
    .venv/bin/python web_demo/tools/python_reference.py OUT_DIR
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from edgephoto.runtime.artifact import load_artifact
from edgephoto.runtime.image_io import read_photo
from edgephoto.runtime.tasks.common import ModelFacts
from edgephoto.runtime.tasks.depth import estimate_depth
from edgephoto.runtime.tasks.segmentation import segment
from edgephoto.runtime.tasks.upscale import upscale

ROOT = Path(__file__).resolve().parent.parent
UPSCALE_MAX_PX = {"upscale": 1 << 20, "upscale_tiled": 192 * 192}  # as app.js: centre crops beyond


def centre_crop(rgb: np.ndarray, max_px: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    if h * w <= max_px:
        return rgb
    side = int(max_px**0.5)
    ch, cw = min(side, h), min(side, w)
    y0, x0 = (h - ch) >> 1, (w - cw) >> 1
    return rgb[y0 : y0 + ch, x0 : x0 + cw]


def main(out: Path) -> None:
    index = json.loads((ROOT / "artifacts" / "index.json").read_text())
    rgb = read_photo(ROOT / index["sample"]).rgb
    out.mkdir(parents=True, exist_ok=True)
    steps = {
        "mask": ("segmentation", lambda b, f: segment(b, f, rgb)),
        "mask_litert": ("segmentation_litert", lambda b, f: segment(b, f, rgb)),
        "depth": ("depth", lambda b, f: estimate_depth(b, f, rgb).depth),
        "upscale": ("upscale", lambda b, f: upscale(b, f, centre_crop(rgb, UPSCALE_MAX_PX["upscale"]))),
        "upscale_tiled": ("upscale_tiled", lambda b, f: upscale(b, f, centre_crop(rgb, UPSCALE_MAX_PX["upscale_tiled"]))),
    }
    meta: dict[str, Any] = {"photo": {"shape": list(rgb.shape)}, "outputs": {}}
    (out / "photo.bin").write_bytes(np.ascontiguousarray(rgb).tobytes())
    for name, (role, run) in steps.items():
        path = ROOT / index["models"][role]
        engine = "litert" if path.name.startswith("tflite") else "onnxruntime"
        backend, manifest = load_artifact(path, backend=engine, threads=1)
        facts = ModelFacts.load(manifest)
        t0 = time.perf_counter()
        value = np.asarray(run(backend, facts))
        ms = (time.perf_counter() - t0) * 1000
        (out / f"{name}.bin").write_bytes(np.ascontiguousarray(value).tobytes())
        meta["outputs"][name] = {"shape": list(value.shape), "dtype": value.dtype.name, "model": manifest["model"],
                                 "ms": ms}
        backend.close()
    (out / "reference.json").write_text(json.dumps(meta, indent=2) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
