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


def cpu_flags() -> list[str]:
    """The SIMD features that decide int8 speed (VNNI: int8 dot products; without it int8 ~ fp32)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return sorted(f for f in flags if f in ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8"))


def cpu_model() -> str:
    """'AMD EPYC (family 25)': the flags alone do not say which int8 instructions are fast."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""
    fields = dict(line.split(":", 1) for line in text.splitlines()[:30] if ":" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    return f"{fields.get('model name', '?')} (family {fields.get('cpu family', '?')}, model {fields.get('model', '?')})"


def measure(models: list[str], targets: list[str], artifacts: Path, runs: int,
            weights_dirs: list[Path], calib: Path | None, accuracy_control: bool = False,
            save: Any = None) -> list[dict[str, Any]]:
    """Rows for every model x target x precision; `save(rows)` after each model (long runs)."""
    from edgephoto.convert.api import convert_model
    from edgephoto.convert.targets import TARGETS
    from edgephoto.zoo import all_models, get_model
    from edgephoto.zoo.weights import resolve

    specs = all_models() if models == ["all"] else [get_model(m) for m in models]
    rows: list[dict[str, Any]] = []
    for spec in specs:
        root = resolve(spec, local_dirs=weights_dirs or None)
        portraits = spec.task in ("segmentation", "matting") and PORTRAITS.is_dir()
        photos = calib or (PORTRAITS if portraits else None)
        options: dict[str, Any] = {"calib_dir": photos} if photos else {}
        if portraits:  # every 4th portrait held out and scored against its mask
            options["holdout_size"] = 37
        if accuracy_control:
            options["accuracy_control"] = True
        for name in targets:
            target = TARGETS.get(name)
            print(f"{spec.name} -> {name} {target.precisions}", file=sys.stderr, flush=True)
            results = convert_model(spec, root / spec.files[0].path, [target], artifacts,
                                    precisions=target.precisions,
                                    options=options)
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
                    "kept_float": acc.get("kept_float", []),
                    "accuracy": acc,
                })
        if save is not None:
            save(rows)
    return rows


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _score(row: dict[str, Any], which: str) -> float | None:
    """The guarded metric of the float / quantized model against the reference (PSNR dB, IoU)."""
    acc = row.get("accuracy") or {}
    key = {"psnr": f"psnr_{which}", "iou": f"iou_gt_{which}"}.get(row.get("metric") or "")
    return acc.get(key) if key else None


def _kept(row: dict[str, Any]) -> str:
    kept = row.get("kept_float") or (row.get("accuracy") or {}).get("kept_float") or []
    if not kept:
        return "-"
    return kept[0].rsplit("/", 2)[-2] if len(kept) == 1 and "/" in kept[0] else f"{len(kept)} ops"


def render(data: dict[str, Any]) -> str:
    lines = [
        "# Quantization table",
        "",
        f"Machine: {data['machine']}; latency: 1 thread, median of {data['runs']} interleaved runs "
        "per artifact, same run as the fp32 baseline. Drop = float minus quantized on held-out "
        "photos (see `guarded_against`).",
        "",
        f"CPU flags: {', '.join(data.get('cpu_flags', [])) or 'unknown'}.",
        "",
        *([f"Not measured yet: {data['missing']}", ""] if data.get("missing") else []),
        *[f"- {note}" for note in data.get("notes", [])],
        *([""] if data.get("notes") else []),
        "| model | target | precision | size MB | × smaller | latency ms | × faster | metric | float | quant | drop | limit | kept float | status |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in data["rows"]:
        status = "ok" if r["ok"] else f"{r['error_type']}: {(r['error'] or '')[:80]}"
        lines.append(
            f"| {r['model']} | {r['target']} | {r['precision']} | {r['size_bytes'] / 1e6:.3f} | "
            f"{_fmt(r['size_ratio'], '.2f')} | {_fmt(r['latency_ms'], '.2f')} | {_fmt(r['speedup'], '.2f')} | "
            f"{r['metric'] or '-'} | {_fmt(_score(r, 'float'), '.3f')} | {_fmt(_score(r, 'quant'), '.3f')} | "
            f"{_fmt(r['drop'], '.3f')} | {_fmt(r['limit'], 'g')} | {_kept(r)} | {status} |"
        )
    return "\n".join(lines + summary(data["rows"])) + "\n"


def summary(rows: list[dict[str, Any]]) -> list[str]:
    """Per target x precision: how many models passed, were refused (and why), size/speed range."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        if r["precision"] != "fp32":
            groups.setdefault((r["target"], r["precision"]), []).append(r)
    lines = ["", "## Summary", "",
             "| target | precision | ok | refused by the guard | not applicable | × smaller (min-max) | × faster (min-max) |",
             "|---|---|---|---|---|---|---|"]

    def span(values: list[float]) -> str:
        return f"{min(values):.2f}-{max(values):.2f}" if values else "-"

    for (target, precision), group in sorted(groups.items()):
        ok = [r for r in group if r["ok"]]
        guard = [r["model"] for r in group if r["error_type"] == "AccuracyDropError"]
        other = [r["model"] for r in group if not r["ok"] and r["error_type"] != "AccuracyDropError"]
        lines.append(
            f"| {target} | {precision} | {len(ok)} | {', '.join(guard) or '-'} | {', '.join(other) or '-'} | "
            f"{span([r['size_ratio'] for r in ok if r['size_ratio']])} | "
            f"{span([r['speedup'] for r in ok if r['speedup']])} |")
    return lines


def _merge(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    keys = {(r["model"], r["target"], r["precision"]) for r in new}
    return [r for r in old if (r["model"], r["target"], r["precision"]) not in keys] + new


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="all")
    parser.add_argument("--targets", default="onnx,tflite,openvino,coreml")
    parser.add_argument("--artifacts", type=Path, default=Path("/tmp/edgephoto-quantize-table"))
    parser.add_argument("--out", type=Path, default=HERE / "results" / "quantize.json")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--weights-dir", action="append", type=Path, default=[])
    parser.add_argument("--calib", type=Path)
    parser.add_argument("--accuracy-control", action="store_true")
    parser.add_argument("--merge", type=Path, nargs="*", default=[],
                        help="Other result JSONs to merge into --out (rows keyed by model/target/precision).")
    parser.add_argument("--render", type=Path, help="Only render an existing JSON to Markdown.")
    args = parser.parse_args(argv)
    if args.render:
        data = json.loads(args.render.read_text())
        args.render.with_suffix(".md").write_text(render(data))
        return 0
    import platform

    previous = json.loads(args.out.read_text())["rows"] if args.out.exists() else []
    notes = json.loads(args.out.read_text()).get("notes", []) if args.out.exists() else []
    previous_runs = json.loads(args.out.read_text()).get("runs", args.runs) if args.out.exists() else args.runs
    for other in args.merge:
        previous = _merge(previous, json.loads(other.read_text())["rows"])

    def save(rows: list[dict[str, Any]]) -> dict[str, Any]:
        data = {"machine": f"{platform.machine()} {cpu_model()}, Python {platform.python_version()}",
                "notes": notes,
                "cpu_flags": cpu_flags(),
                "runs": previous_runs if args.models == "none" else args.runs, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "rows": sorted(_merge(previous, rows), key=lambda r: (r["model"], r["target"]))}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(data, indent=2, default=str) + "\n")
        args.out.with_suffix(".md").write_text(render(data))
        return data

    rows = [] if args.models == "none" else measure(
        args.models.split(","), args.targets.split(","), args.artifacts, args.runs, args.weights_dir,
        args.calib, args.accuracy_control, save)
    data = save(rows)
    print(render(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
