"""Convert every permissive zoo model to every target and write the parity table.

    python benchmarks/convert_zoo.py --out /tmp/zoo-artifacts            # runs the conversion
    python benchmarks/convert_zoo.py --render benchmarks/results/convert_zoo.json   # table only

Results are data first (convert_zoo.json: the `edgephoto convert --json` rows plus wall time and
machine facts), then rendered to Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def run(out: Path) -> dict[str, object]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "edgephoto.cli.main", "convert", "--model", "all", "--target", "all",
         "--out", str(out), "--json"],
        capture_output=True, text=True, check=False,
    )
    wall = time.perf_counter() - started
    rows = json.loads(done.stdout)
    return {"wall_seconds": round(wall, 1), "exit_code": done.returncode, "load_after": os.getloadavg(),
            "cores": os.cpu_count(), "rows": rows}


def render(results: dict[str, object]) -> str:
    rows = results["rows"]
    assert isinstance(rows, list)
    ok = sum(r["ok"] for r in rows)
    lines = [
        "# Zoo conversion: every permissive model to every target",
        "",
        f"{ok}/{len(rows)} artifacts ok; whole zoo in {results['wall_seconds']} s wall "
        f"({results['cores']} cores, load {results['load_after'][0]:.1f} at the end).",
        "",
        "Parity on the built-in photos against the source run by its own framework: PSNR (dB) for"
        " upscale, IoU for segmentation, mean quantization steps for integer models, relative max"
        " error otherwise; Core ML is checked structurally (its predict() needs macOS), and the"
        " graph handed to coremltools is checked numerically instead.",
        "",
        "| model | target | ok | size MB | metric | value | max abs err | seconds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        parity = r["parity"] or {}
        outputs = parity.get("outputs") or parity.get("converter_input", {}).get("outputs") or {}
        first = next(iter(outputs.values()), None)
        metric = parity.get("metric") or parity.get("converter_input", {}).get("metric", "")
        if "structural" in parity:
            metric = f"structural + {metric} of the converter input" if metric else "structural"
        value = f"{first['metric']:.4g}" if first else ""
        max_abs = f"{first['max_abs']:.2g}" if first else ""
        status = "ok" if r["ok"] else f"FAILED: {r['error']}"
        lines.append(f"| {r['model']} | {r['target']} | {status} | {r['size_bytes'] / 1e6:.2f} | "
                     f"{metric} | {value} | {max_abs} | {r['seconds']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("/tmp/edgephoto-zoo-artifacts"))
    parser.add_argument("--render", type=Path, help="re-render an existing results JSON")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.render:
        results = json.loads(args.render.read_text())
    else:
        results = run(args.out)
        (RESULTS / "convert_zoo.json").write_text(json.dumps(results, indent=1) + "\n")
    (RESULTS / "convert_zoo.md").write_text(render(results))
    print(RESULTS / "convert_zoo.md")


if __name__ == "__main__":
    main()
