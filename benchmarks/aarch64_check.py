"""The runtime extra alone on aarch64: run every artifact, then compare with the host.

run     : (host, and inside the emulated arm64 chroot) load every artifact under --artifacts with
          edgephoto.load (the public API; backend = the target's default, 1 thread) and
          run its task on the built-in astronaut photo. Writes outputs-<label>.json (facts,
          sha256 of every output, wall times, the modules that were imported, the installed
          distributions) and outputs-<label>.npz (task outputs + every raw engine output).
compare : host vs aarch64 outputs -> benchmarks/results/aarch64_check.{json,md}, adding the
          install facts scripts/aarch64_check.sh recorded (venv size, pip time, wheels taken);
          exits non-zero when any artifact differs beyond tolerance (or failed on one side).

Emulated wall times are information only (QEMU user mode is ~150x slower), never a speed claim.

    python benchmarks/aarch64_check.py run --artifacts /tmp/arm-art --out /tmp/arm-out --label host
    python benchmarks/aarch64_check.py compare --outputs /tmp/arm-out --install install.json
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import hashlib  # noqa: E402
import importlib.metadata  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
FORBIDDEN = ("tensorflow", "torch", "coremltools", "onnx", "tf_keras", "keras", "nncf", "jax")
PHOTO = "astronaut"
CONTROL = "aarch64-qemu-max"  # label of the optional run under QEMU's default CPU
# Raw engine outputs, aarch64 vs the same engine on the host. Float: |diff| <= FLOAT_TOL (fp32
# kernels differ across ISAs: measured <= 2.1e-4 on the selfie mask logits under cortex-a76; the
# `max` CPU trap gave 5e-3). Integer: <= INT_TOL_STEPS quantization steps (the host's own three
# engines already differ by 4 steps on FastDepth's uint8 output; the trap gave 107).
FLOAT_TOL = 1e-3
INT_TOL_STEPS = 4


def _sha(array: np.ndarray) -> str:
    data = np.ascontiguousarray(array)
    head = f"{data.dtype.str}{data.shape}".encode()
    return hashlib.sha256(head + data.tobytes()).hexdigest()


def _task_output(result: Any) -> np.ndarray:
    """The array a task returns (DepthResult carries .depth)."""
    return np.asarray(getattr(result, "depth", result))


def _record_raw(backend: Any, raw: list[np.ndarray]) -> None:
    """Keep every engine output the task asks for (instance attribute wraps Backend.run)."""
    run = backend.run

    def recording(feeds: Any) -> dict[str, np.ndarray]:
        out = run(feeds)
        raw.extend(np.array(v, copy=True) for v in out.values())
        return out

    backend.run = recording


def run_one(artifact: Path, rgb: np.ndarray) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Load one artifact, run its task once; (facts, arrays)."""
    import edgephoto

    t0 = time.perf_counter()
    model = edgephoto.load(artifact, threads=1)  # the public API, as a user on the board calls it
    backend, manifest = model.backend, model.manifest
    load_s = time.perf_counter() - t0
    raw: list[np.ndarray] = []
    _record_raw(backend, raw)
    t0 = time.perf_counter()
    output = _task_output(model(rgb))
    run_s = time.perf_counter() - t0
    facts = {
        "model": manifest["model"], "target": manifest["target"], "task": manifest["task"],
        "source_precision": manifest.get("source_precision"),
        "artifact_sha256": {f["path"]: f["sha256"] for f in manifest["files"]},
        "backend": backend.describe(),
        "output": {"shape": list(output.shape), "dtype": str(output.dtype), "sha256": _sha(output)},
        "raw": {"calls": len(raw), "dtypes": sorted({str(r.dtype) for r in raw}),
                "sha256": hashlib.sha256(b"".join(_sha(r).encode() for r in raw)).hexdigest()},
        "load_s": round(load_s, 4), "run_s": round(run_s, 4),
    }
    backend.close()
    arrays = {"output": output}
    arrays.update({f"raw{i:04d}": r for i, r in enumerate(raw)})
    return facts, arrays


def _platform() -> dict[str, Any]:
    import edgephoto
    from edgephoto.runtime.devices import cpu_facts

    return {
        "edgephoto": str(Path(edgephoto.__file__).parent),
        "machine": platform.machine(), "python": platform.python_version(),
        "libc": " ".join(platform.libc_ver()), "cpu": cpu_facts(),
        "qemu_cpu": os.environ.get("QEMU_CPU"),
    }


def run(artifacts: Path, out: Path, label: str) -> dict[str, Any]:
    """Every <model>/<target>-<precision> artifact under `artifacts`; outputs-<label>.{json,npz}."""
    from edgephoto.runtime.image_io import load_sample

    rgb = load_sample(PHOTO).rgb
    cases: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}
    for manifest in sorted(artifacts.glob("*/*/manifest.json")):
        key = f"{manifest.parent.parent.name}/{manifest.parent.name}"
        try:
            facts, found = run_one(manifest.parent, rgb)
        except Exception as exc:  # noqa: BLE001 - record how a backend fails on this machine
            cases[key] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        cases[key] = facts
        arrays.update({f"{key}/{name}": value for name, value in found.items()})
    record = {
        "label": label, "photo": PHOTO, "platform": _platform(), "cases": cases,
        "imported_forbidden": sorted(m for m in FORBIDDEN if m in sys.modules),
        "installed_forbidden": sorted(m for m in FORBIDDEN if importlib.util.find_spec(m) is not None),
        "distributions": sorted(f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions()),
    }
    out.mkdir(parents=True, exist_ok=True)
    _write(out / f"outputs-{label}.json", json.dumps(record, indent=1) + "\n")
    tmp = out / f".outputs-{label}.tmp.npz"
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, out / f"outputs-{label}.npz")
    return record


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _diff(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        return float("inf")
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if a.size else 0.0


def _raw(npz: Any, key: str) -> list[np.ndarray]:
    return [npz[n] for n in sorted(n for n in npz.files if n.startswith(f"{key}/raw"))]


def _raw_diff(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    if len(a) != len(b):
        return float("inf")
    return max((_diff(x, y) for x, y in zip(a, b, strict=True)), default=0.0)


def _task_agreement(task: str, a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
    """What the difference means for the task: mask IoU, PSNR, share of elements that differ."""
    from edgephoto.metrics import iou, psnr

    facts: dict[str, Any] = {"frac_differ": float(np.mean(a != b))}
    if task == "segmentation":
        facts["iou_at_0.5"] = float(iou(a > 0.5, b > 0.5))
    elif task == "upscale":
        facts["psnr_db"] = float(psnr(a, b))
    return facts


def _agreement(key: str, host: dict[str, Any], arm: dict[str, Any], npz_h: Any, npz_a: Any) -> dict[str, Any]:
    """One artifact on both machines: raw engine outputs (steps for integer, abs for float), the task
    output, and for context the same output against the host's other engines for that model."""
    if "error" in arm or "error" in host:
        return {"case": key, "host_error": host.get("error"), "aarch64_error": arm.get("error"), "ok": False}
    integer = any(np.dtype(d).kind in "iu" for d in host["raw"]["dtypes"])
    raw_diff = _raw_diff(_raw(npz_h, key), _raw(npz_a, key))
    model = key.split("/")[0]
    others = sorted(n.rsplit("/", 1)[0] for n in npz_h.files
                    if n.startswith(f"{model}/") and n.endswith("/output") and not n.startswith(f"{key}/"))
    out_h, out_a = npz_h[f"{key}/output"], npz_a[f"{key}/output"]
    tolerance = float(INT_TOL_STEPS) if integer else FLOAT_TOL
    return {
        "case": key, "model": host["model"], "target": host["target"], "task": host["task"],
        "backend": host["backend"]["backend"], "precision_hint": arm["backend"]["precision_hint"],
        "accelerator": arm["backend"]["accelerator"],
        "same_artifact": host["artifact_sha256"] == arm["artifact_sha256"],
        "artifact_sha256": host["artifact_sha256"],
        "raw_sha256": {"host": host["raw"]["sha256"], "aarch64": arm["raw"]["sha256"]},
        "output_sha256": {"host": host["output"]["sha256"], "aarch64": arm["output"]["sha256"]},
        "raw_calls": host["raw"]["calls"], "raw_dtype": ",".join(host["raw"]["dtypes"]),
        "raw_unit": "steps" if integer else "abs",
        "raw_bit_identical": host["raw"]["sha256"] == arm["raw"]["sha256"],
        "raw_max_abs_diff": raw_diff,
        "within_tolerance": raw_diff <= tolerance,
        # context: the host's own engines disagree with each other by this much on this model
        "host_other_engines_max_abs_diff": {
            o.split("/")[1]: _raw_diff(_raw(npz_h, key), _raw(npz_h, o)) for o in others},
        "aarch64_vs_host_other_engines_max_abs_diff": {
            o.split("/")[1]: _raw_diff(_raw(npz_a, key), _raw(npz_h, o)) for o in others},
        "output_dtype": host["output"]["dtype"], "output_shape": host["output"]["shape"],
        "output_bit_identical": host["output"]["sha256"] == arm["output"]["sha256"],
        "output_max_abs_diff": _diff(out_h, out_a),
        "output_agreement": _task_agreement(host["task"], out_h, out_a),
        "host_run_s": host["run_s"], "aarch64_run_s": arm["run_s"], "aarch64_load_s": arm["load_s"],
        "ok": raw_diff <= tolerance and host["artifact_sha256"] == arm["artifact_sha256"],
    }


def _control(outputs: Path, host: dict[str, Any], npz_h: Any) -> dict[str, Any] | None:
    """The same runs under QEMU's default `max` CPU, if the script made them: shows the check fails."""
    path = outputs / f"outputs-{CONTROL}.json"
    if not path.is_file():
        return None
    control = json.loads(path.read_text())
    rows = {}
    with np.load(outputs / f"outputs-{CONTROL}.npz") as npz_c:
        for key, facts in sorted(control["cases"].items()):
            rows[key] = facts.get("error") or {
                "raw_max_abs_diff": _raw_diff(_raw(npz_h, key), _raw(npz_c, key)),
                "raw_bit_identical": facts["raw"]["sha256"] == host["cases"][key]["raw"]["sha256"]}
    return {"qemu_cpu": control["platform"]["qemu_cpu"], "rows": rows}


def compare(outputs: Path, install: Path | None, results: Path) -> dict[str, Any]:
    """outputs-host vs outputs-aarch64 -> results/aarch64_check.{json,md}."""
    host = json.loads((outputs / "outputs-host.json").read_text())
    arm = json.loads((outputs / "outputs-aarch64.json").read_text())
    with np.load(outputs / "outputs-host.npz") as npz_h, np.load(outputs / "outputs-aarch64.npz") as npz_a:
        rows = [_agreement(k, host["cases"][k], arm["cases"].get(k, {"error": "not run"}), npz_h, npz_a)
                for k in sorted(host["cases"])]
        control = _control(outputs, host, npz_h)
    report = {
        "what": "edgephoto[runtime] alone on emulated aarch64 (Debian bookworm arm64, qemu-user), "
                "same artifacts and photo as the host; emulated times are information only",
        "photo": host["photo"], "float_tolerance": FLOAT_TOL, "integer_tolerance_steps": INT_TOL_STEPS,
        "host": {k: host[k] for k in ("platform", "imported_forbidden")},
        "aarch64": {k: arm[k] for k in ("platform", "imported_forbidden", "installed_forbidden",
                                         "distributions")},
        "install": json.loads(install.read_text()) if install else None,
        "rows": rows, "all_within_tolerance": all(r["ok"] for r in rows),
        "control_qemu_max": control,
    }
    results.mkdir(parents=True, exist_ok=True)
    _write(results / "aarch64_check.json", json.dumps(report, indent=1) + "\n")
    _write(results / "aarch64_check.md", render(report))
    return report


def _num(x: float) -> str:
    return "0" if x == 0 else f"{x:.3g}"


def _agree(facts: dict[str, Any]) -> str:
    parts = [f"{facts['frac_differ']:.1%} differ"]
    if "iou_at_0.5" in facts:
        parts.append(f"IoU@0.5 {facts['iou_at_0.5']:.5f}")
    if "psnr_db" in facts:
        parts.append(f"PSNR {facts['psnr_db']:.1f} dB")
    return ", ".join(parts)


def render(report: dict[str, Any]) -> str:
    """Markdown from the JSON (results are data first)."""
    arm, inst = report["aarch64"], report["install"] or {}
    plat = arm["platform"]
    lines = [
        "# edgephoto[runtime] on aarch64 (emulated Raspberry-Pi-class, QEMU user mode)", "",
        f"{report['what']}. Photo: built-in `{report['photo']}` (512x512). Rendered from "
        "`aarch64_check.json` by `benchmarks/aarch64_check.py`; made by `scripts/aarch64_check.sh`.", "",
        f"- guest: {plat['machine']}, Python {plat['python']}, {plat['libc']}, "
        f"QEMU_CPU={plat['qemu_cpu']} ({inst.get('qemu', '?')}), cpu flags seen: "
        f"{', '.join(plat['cpu'].get('flags', []))}; edgephoto imported from `{plat.get('edgephoto')}`",
        f"- `{inst.get('command', '?')}` with pip {inst.get('pip', '?')}: {inst.get('pip_install_s', '?')} s "
        f"(emulated, downloads included), venv {inst.get('venv_mb', '?')} MB; pip check: "
        f"{inst.get('pip_check', '?')}",
        f"- wheels taken: {', '.join(inst.get('wheels', [])) or '?'}",
        f"- TensorFlow / torch / coremltools / onnx / keras / nncf / jax imported: "
        f"{', '.join(arm['imported_forbidden']) or 'none'}; installed in the venv: "
        f"{', '.join(arm['installed_forbidden']) or 'none'}",
        f"- raw engine outputs within tolerance of the same engine on the host (float "
        f"{report['float_tolerance']}, integer {report['integer_tolerance_steps']} steps) for every "
        f"artifact: {'yes' if report['all_within_tolerance'] else 'no (see the rows)'}", "",
        "| model | target | backend | raw outputs (calls, dtype) | raw bit-identical | raw max abs diff "
        "| within tol. | host's other engines vs this one (host) | this one on aarch64 vs host's other engines "
        "| task output | output max abs diff | output agreement | host s | emulated s (info) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    notes = [
        "", "Raw outputs are the engine's own tensors (uint8 codes for the int8 FastDepth, so diffs are "
        "quantization steps); the two 'other engines' columns say how far apart different engines "
        "already are on the host, the scale to judge a cross-architecture diff by. The task output is "
        "after the runtime's pre/post-processing (resize, guided filter, tiling, uint8 rounding).",
    ]
    for r in report["rows"]:
        if "host_error" in r:
            lines.append(f"| {r['case']} | | | host: {r['host_error']} | aarch64: {r['aarch64_error']} "
                         "| | | | | | | | | |")
            continue
        host_o = ", ".join(f"{k.split('-')[0]} {_num(v)}" for k, v in r["host_other_engines_max_abs_diff"].items())
        arm_o = ", ".join(f"{k.split('-')[0]} {_num(v)}"
                          for k, v in r["aarch64_vs_host_other_engines_max_abs_diff"].items())
        lines.append(
            f"| {r['model']} | {r['target']} | {r['backend']} | {r['raw_calls']}, {r['raw_dtype']} "
            f"| {'yes' if r['raw_bit_identical'] else 'no'} | {_num(r['raw_max_abs_diff'])} {r['raw_unit']} "
            f"| {'yes' if r['within_tolerance'] else 'NO'} | {host_o} | {arm_o} "
            f"| {r['output_dtype']} {'x'.join(map(str, r['output_shape']))} "
            f"| {_num(r['output_max_abs_diff'])} | {_agree(r['output_agreement'])} "
            f"| {r['host_run_s']:.3f} | {r['aarch64_run_s']:.2f} |"
        )
    lines += notes
    control = report.get("control_qemu_max")
    if control:
        lines += ["", f"Control: the same runs under QEMU_CPU={control['qemu_cpu']} (QEMU's default), "
                  "raw max abs diff against the host:", ""]
        lines += [f"- {k}: " + (v if isinstance(v, str) else
                  f"{_num(v['raw_max_abs_diff'])}{' (bit-identical)' if v['raw_bit_identical'] else ''}")
                  for k, v in control["rows"].items()]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run")
    p_run.add_argument("--artifacts", type=Path, required=True)
    p_run.add_argument("--out", type=Path, required=True)
    p_run.add_argument("--label", required=True)
    p_cmp = sub.add_parser("compare")
    p_cmp.add_argument("--outputs", type=Path, required=True)
    p_cmp.add_argument("--install", type=Path)
    p_cmp.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.command == "run":
        record = run(args.artifacts, args.out, args.label)
        for key, facts in record["cases"].items():
            print(key, facts.get("error") or f"{facts['output']['sha256'][:12]} {facts['run_s']:.3f}s")
        print("imported forbidden:", record["imported_forbidden"])
    else:
        report = compare(args.outputs, args.install, args.results)
        print(render(report))
        if not report["all_within_tolerance"]:  # CI fails on a cross-architecture difference
            failed = [r["case"] for r in report["rows"] if not r["ok"]]
            sys.exit(f"aarch64 differs from the host beyond tolerance: {', '.join(failed)}")


if __name__ == "__main__":
    main()
