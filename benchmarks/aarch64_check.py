"""The runtime extra alone on aarch64: run every artifact, then compare with the host.

run     : (host, and inside the emulated arm64 chroot) load every artifact under --artifacts with
          edgephoto.runtime.artifact.load_artifact (backend = the target's default, 1 thread) and
          run its task on the built-in astronaut photo. Writes outputs-<label>.json (facts,
          sha256 of every output, wall times, the modules that were imported, the installed
          distributions) and outputs-<label>.npz (task outputs + every raw engine output).
compare : host vs aarch64 outputs -> benchmarks/results/aarch64_check.{json,md}, adding the
          install facts scripts/aarch64_check.sh recorded (venv size, pip time, wheels taken).

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
# float outputs: |diff| <= FLOAT_TOL; integer engine outputs: <= 1 quantization step
FLOAT_TOL = 1e-5


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
    from edgephoto.runtime.artifact import load_artifact
    from edgephoto.runtime.tasks import TASKS

    t0 = time.perf_counter()
    backend, manifest = load_artifact(artifact, threads=1)
    load_s = time.perf_counter() - t0
    raw: list[np.ndarray] = []
    _record_raw(backend, raw)
    t0 = time.perf_counter()
    output = _task_output(TASKS.get(manifest["task"]).run(backend, manifest, rgb))
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


def _agreement(key: str, host: dict[str, Any], arm: dict[str, Any], npz_h: Any, npz_a: Any) -> dict[str, Any]:
    """One artifact: raw engine outputs (steps for integer, abs for float) and the task output."""
    if "error" in arm or "error" in host:
        return {"case": key, "host_error": host.get("error"), "aarch64_error": arm.get("error"), "ok": False}
    raws = sorted(n for n in npz_h.files if n.startswith(f"{key}/raw"))
    raw_diff = max((_diff(npz_h[n], npz_a[n]) for n in raws), default=0.0) if all(
        n in npz_a.files for n in raws) and host["raw"]["calls"] == arm["raw"]["calls"] else float("inf")
    integer = any(np.dtype(d).kind in "iu" for d in host["raw"]["dtypes"])
    out_h, out_a = npz_h[f"{key}/output"], npz_a[f"{key}/output"]
    out_diff = _diff(out_h, out_a)
    raw_ok = raw_diff <= (1.0 if integer else FLOAT_TOL)
    return {
        "case": key, "model": host["model"], "target": host["target"], "task": host["task"],
        "backend": host["backend"].get("name") or host["backend"].get("backend"),
        "same_artifact": host["artifact_sha256"] == arm["artifact_sha256"],
        "raw_calls": host["raw"]["calls"], "raw_dtype": ",".join(host["raw"]["dtypes"]),
        "raw_bit_identical": host["raw"]["sha256"] == arm["raw"]["sha256"],
        "raw_max_abs_diff": raw_diff, "raw_unit": "steps" if integer else "abs",
        "output_dtype": host["output"]["dtype"], "output_shape": host["output"]["shape"],
        "output_bit_identical": host["output"]["sha256"] == arm["output"]["sha256"],
        "output_max_abs_diff": out_diff,
        "host_run_s": host["run_s"], "aarch64_run_s": arm["run_s"], "aarch64_load_s": arm["load_s"],
        "ok": raw_ok and host["artifact_sha256"] == arm["artifact_sha256"],
    }


def compare(outputs: Path, install: Path | None, results: Path) -> dict[str, Any]:
    """outputs-host vs outputs-aarch64 -> results/aarch64_check.{json,md}."""
    host = json.loads((outputs / "outputs-host.json").read_text())
    arm = json.loads((outputs / "outputs-aarch64.json").read_text())
    with np.load(outputs / "outputs-host.npz") as npz_h, np.load(outputs / "outputs-aarch64.npz") as npz_a:
        rows = [_agreement(k, host["cases"][k], arm["cases"].get(k, {"error": "not run"}), npz_h, npz_a)
                for k in sorted(host["cases"])]
    report = {
        "what": "edgephoto[runtime] alone on emulated aarch64 (Debian bookworm arm64, qemu-user), "
                "same artifacts and photo as the host; emulated times are information only",
        "photo": host["photo"], "float_tolerance": FLOAT_TOL, "integer_tolerance_steps": 1,
        "host": {k: host[k] for k in ("platform", "imported_forbidden")},
        "aarch64": {k: arm[k] for k in ("platform", "imported_forbidden", "installed_forbidden",
                                         "distributions")},
        "install": json.loads(install.read_text()) if install else None,
        "rows": rows, "all_ok": all(r["ok"] for r in rows) and not arm["imported_forbidden"],
    }
    results.mkdir(parents=True, exist_ok=True)
    _write(results / "aarch64_check.json", json.dumps(report, indent=1) + "\n")
    _write(results / "aarch64_check.md", render(report))
    return report


def _num(x: float) -> str:
    return "0" if x == 0 else f"{x:.3g}"


def render(report: dict[str, Any]) -> str:
    """Markdown from the JSON (results are data first)."""
    arm, inst = report["aarch64"], report["install"] or {}
    lines = [
        "# edgephoto[runtime] on aarch64 (emulated Raspberry-Pi-class, QEMU user mode)", "",
        f"{report['what']}.", "",
        f"- guest: {arm['platform']['machine']}, Python {arm['platform']['python']}, "
        f"{arm['platform']['libc']}, QEMU_CPU={arm['platform']['qemu_cpu']}, "
        f"cpu model: {arm['platform']['cpu'].get('model', '?')}",
        f"- `pip install './edgephoto[runtime]'`: {inst.get('pip_install_s', '?')} s (emulated pip, "
        f"network), venv {inst.get('venv_mb', '?')} MB",
        f"- wheels taken: {', '.join(inst.get('wheels', [])) or '?'}",
        f"- TensorFlow / torch / coremltools / onnx imported: {arm['imported_forbidden'] or 'none'}; "
        f"installed in the venv: {arm['installed_forbidden'] or 'none'}",
        f"- all agree within tolerance (float {report['float_tolerance']}, integer "
        f"{report['integer_tolerance_steps']} step): {'yes' if report['all_ok'] else 'NO'}", "",
        "| model | target | backend | raw engine outputs (calls, dtype) | raw bit-identical | raw max |diff| "
        "| task output | output bit-identical | output max |diff| | host s | emulated s (info) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["rows"]:
        if "host_error" in r:
            lines.append(f"| {r['case']} | | | host: {r['host_error']} | aarch64: {r['aarch64_error']} "
                         "| | | | | | |")
            continue
        lines.append(
            f"| {r['model']} | {r['target']} | {r['backend']} | {r['raw_calls']}, {r['raw_dtype']} "
            f"| {'yes' if r['raw_bit_identical'] else 'no'} | {_num(r['raw_max_abs_diff'])} {r['raw_unit']} "
            f"| {r['output_dtype']} {'x'.join(map(str, r['output_shape']))} "
            f"| {'yes' if r['output_bit_identical'] else 'no'} | {_num(r['output_max_abs_diff'])} "
            f"| {r['host_run_s']:.3f} | {r['aarch64_run_s']:.2f} |"
        )
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


if __name__ == "__main__":
    main()
