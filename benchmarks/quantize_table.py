"""Quantization table: every permissive zoo model x target x precision, measured on this CPU.

For each model and target: the fp32 artifact and every quantized precision are built with
`edgephoto.convert.api.convert_model` (each quantized one carries its held-out accuracy and the
guard's verdict), then all artifacts of that model/target are timed together, 1 thread,
interleaved run by run on the same real-photo input, median per artifact. Results are JSON
(benchmarks/results/quantize.json); the Markdown table is rendered from it.

    python benchmarks/quantize_table.py --models esrgan-slim-x4,selfie --targets onnx,tflite
    python benchmarks/quantize_table.py --render benchmarks/results/quantize.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PORTRAITS = HERE.parents[1] / "shared" / "data" / "portraits" / "images"


def _latency(spec: Any, target: Any, artifacts: dict[str, Path], runs: int) -> dict[str, float]:
    """Median ms per precision; runs interleaved so machine noise hits all precisions alike."""
    from edgephoto.quantize.accuracy import open_runner
    from edgephoto.quantize.calibration import calibration_dataset

    feed = calibration_dataset(spec, subset_size=1).holdout[0].feed
    runners = {}
    for precision, path in artifacts.items():
        runners[precision] = open_runner(target.parity_backend, path, spec, threads=1)
    times: dict[str, list[float]] = {p: [] for p in runners}
    try:
        for run, _ in runners.values():  # warm-up
            run(feed)
        for _ in range(runs):
            for precision, (run, _) in runners.items():
                start = time.perf_counter()
                run(feed)
                times[precision].append((time.perf_counter() - start) * 1000)
    finally:
        for _, close in runners.values():
            close()
    return {p: statistics.median(t) for p, t in times.items()}


def _artifact_path(result: Any, target: Any) -> Path:
    return Path(result.path) / f"{result.model}{target.suffix}"


def measure(models: list[str], targets: list[str], artifacts: Path, runs: int,
            weights_dirs: list[Path], calib: Path | None) -> list[dict[str, Any]]:
    from edgephoto.convert.api import convert_model
    from edgephoto.convert.targets import TARGETS
    from edgephoto.zoo import all_models, get_model
    from edgephoto.zoo.weights import resolve

    specs = all_models() if models == ["all"] else [get_model(m) for m in models]
    rows: list[dict[str, Any]] = []
    for spec in specs:
        root = resolve(spec, local_dirs=weights_dirs or None)
        photos = calib or (PORTRAITS if spec.task in ("segmentation", "matting") and PORTRAITS.is_dir() else None)
        for name in targets:
            target = TARGETS.get(name)
            print(f"{spec.name} -> {name} {target.precisions}", file=sys.stderr, flush=True)
            results = convert_model(spec, root / spec.files[0].path, [target], artifacts,
                                    precisions=target.precisions,
                                    options={"calib_dir": photos} if photos else {})
            built = {r.precision: _artifact_path(r, target) for r in results if r.ok}
            latency: dict[str, float] = {}
            if target.parity_backend and "fp32" in built:
                try:
                    latency = _latency(spec, target, built, runs)
                except Exception as exc:  # noqa: BLE001 - recorded, the table goes on
                    print(f"  latency failed: {exc}", file=sys.stderr)
            float_size = next((r.size_bytes for r in results if r.precision == "fp32" and r.ok), 0)
            for r in results:
                acc = r.parity if r.precision != "fp32" else {}
                rows.append({
                    "model": spec.name, "task": spec.task, "target": name, "precision": r.precision,
                    "ok": r.ok, "error": r.error, "error_type": r.error_type,
                    "size_bytes": r.size_bytes,
                    "size_ratio": (float_size / r.size_bytes) if r.size_bytes and float_size else None,
                    "latency_ms": latency.get(r.precision),
                    "speedup": (latency["fp32"] / latency[r.precision]) if r.precision in latency and "fp32" in latency else None,
                    "metric": acc.get("limit", {}).get("metric"),
                    "drop": acc.get("drop"),
                    "limit": acc.get("limit", {}).get("max_drop"),
                    "unit": acc.get("limit", {}).get("unit"),
                    "guarded_against": acc.get("guarded_against"),
                    "accuracy": acc,
                })
    return rows


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def render(data: dict[str, Any]) -> str:
    lines = [
        "# Quantization table",
        "",
        f"Machine: {data['machine']}; latency: 1 thread, median of {data['runs']} interleaved runs "
        "per artifact, same run as the fp32 baseline. Drop = float minus quantized on held-out "
        "photos (see `guarded_against`).",
        "",
        "| model | target | precision | size MB | × smaller | latency ms | × faster | metric | drop | limit | vs | status |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in data["rows"]:
        status = "ok" if r["ok"] else f"{r['error_type']}: {(r['error'] or '')[:80]}"
        lines.append(
            f"| {r['model']} | {r['target']} | {r['precision']} | {r['size_bytes'] / 1e6:.3f} | "
            f"{_fmt(r['size_ratio'], '.2f')} | {_fmt(r['latency_ms'], '.2f')} | {_fmt(r['speedup'], '.2f')} | "
            f"{r['metric'] or '-'} | {_fmt(r['drop'], '.3f')} | {_fmt(r['limit'], 'g')} | "
            f"{r['guarded_against'] or '-'} | {status} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="all")
    parser.add_argument("--targets", default="onnx,tflite,openvino,coreml")
    parser.add_argument("--artifacts", type=Path, default=Path("/tmp/edgephoto-quantize-table"))
    parser.add_argument("--out", type=Path, default=HERE / "results" / "quantize.json")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--weights-dir", action="append", type=Path, default=[])
    parser.add_argument("--calib", type=Path)
    parser.add_argument("--render", type=Path, help="Only render an existing JSON to Markdown.")
    args = parser.parse_args(argv)
    if args.render:
        data = json.loads(args.render.read_text())
        args.render.with_suffix(".md").write_text(render(data))
        return 0
    import platform

    rows = measure(args.models.split(","), args.targets.split(","), args.artifacts, args.runs,
                   args.weights_dir, args.calib)
    previous = json.loads(args.out.read_text())["rows"] if args.out.exists() else []
    keys = {(r["model"], r["target"], r["precision"]) for r in rows}
    merged = [r for r in previous if (r["model"], r["target"], r["precision"]) not in keys] + rows
    data = {"machine": f"{platform.processor() or platform.machine()}, {platform.python_version()}",
            "runs": args.runs, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "rows": sorted(merged, key=lambda r: (r["model"], r["target"]))}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=2, default=str) + "\n")
    args.out.with_suffix(".md").write_text(render(data))
    print(render(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
