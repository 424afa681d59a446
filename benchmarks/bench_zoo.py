"""Zoo benchmark: onnx vs tflite vs openvino fp32 artifacts of five zoo models, 1 thread, all
interleaved in one `edgephoto.bench` run, beside the figures other tools reach on this machine
(/work/shared/data/README.md). Writes benchmarks/results/bench_zoo.{json,md,html}.

Build the artifacts first (one model per call):

    edgephoto convert --model esrgan-slim-x4 --target onnx,tflite,openvino --out ARTIFACTS
    ... fsrcnn-x2, selfie, fastdepth, blazeface
    python benchmarks/bench_zoo.py ARTIFACTS [--runs 100]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODELS = ("esrgan-slim-x4", "fsrcnn-x2", "selfie", "fastdepth", "blazeface")
TARGETS = ("onnx", "tflite", "openvino")

# Other tools on the same weights and machine, 1 thread, medians (shared/data/README.md, 2026-11-26)
REFERENCES = [
    {"model": "esrgan-slim-x4", "what": "TensorFlow 2.21 (tf_keras), same weights, 128² tile",
     "median_ms": 55.0, "source": "shared/data/README.md"},
    {"model": "esrgan-slim-x4", "what": "UpscalerJS 1.0 (TF.js 4.11 WASM, Node), 128² tile",
     "median_ms": 245.0, "source": "shared/data/README.md"},
    {"model": "selfie", "what": "MediaPipe 0.10.21 selfie (general 256²), whole pipeline per photo",
     "median_ms": 3.2, "source": "shared/data/README.md"},
    {"model": "fsrcnn-x2", "what": "OpenCV 5.0 dnn_superres FSRCNN_x2.pb, mean per Set5 image (LR 114-256 px, "
     "about 2x the pixels of a 128² tile)", "median_ms": 13.2, "source": "shared/data/README.md"},
]

NOTES = [
    "fastdepth is the upstream full-int8 TFLite model (uint8 in and out); 'fp32' in its label is the "
    "manifest's precision, meaning edgephoto added no quantization of its own. Its ONNX and OpenVINO "
    "artifacts carry the same integer graph (QDQ / FakeQuantize).",
    "Model-only latency (pre-processed input ready, output not post-processed); the MediaPipe figure "
    "includes its own pre/post-processing, so the model alone is somewhat faster than that.",
    "Cold start = engine import + model load/compile + first run, each artifact in a fresh process.",
]


def main(argv: list[str] | None = None) -> int:
    from edgephoto.bench.report import write_report
    from edgephoto.bench.runner import BenchSettings, benchmark
    from edgephoto.manifest import write_json_atomic

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("artifacts", type=Path, help="root holding <model>/<target>-fp32 directories")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "bench_zoo")
    args = parser.parse_args(argv)
    paths = [args.artifacts / m / f"{t}-fp32" for m in MODELS for t in TARGETS]
    missing = [str(p) for p in paths if not (p / "manifest.json").is_file()]
    if missing:
        print("missing artifacts: " + ", ".join(missing), file=sys.stderr)
        return 1
    data = benchmark(paths, BenchSettings(threads=1, warmup=args.warmup, runs=args.runs),
                     progress=lambda message: print(message, file=sys.stderr))
    data["references"] = REFERENCES
    data["notes"] = NOTES
    write_json_atomic(args.out.with_suffix(".json"), data)
    for suffix in (".md", ".html"):
        write_report(data, args.out.with_suffix(suffix))
    print(args.out.with_suffix(".md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
