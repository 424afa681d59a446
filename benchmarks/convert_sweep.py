"""Wall time of a conversion sweep, `edgephoto convert --model A,B,C,D --target onnx,tflite`:
local (one model after another, today's path) vs `--executor ray` on two local worker nodes.

Each contender runs the real CLI as a subprocess on a fresh --out, in interleaved rounds (the
order alternates each round); medians are reported, with the paired ratio per round. Wall time
includes interpreter start and (Ray) joining the cluster and each task's imports on its node.
The cluster (head + one more node, 1 CPU each, 127.0.0.1) is started once, before the rounds.

    python benchmarks/convert_sweep.py [--rounds 2] [--models fsrcnn-small-x2,...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from batch_throughput import RESULTS, ROOT, start_cluster, stop_cluster  # noqa: E402

NOTE = ("Both Ray nodes run on this same 2-core machine (1 CPU each), so Ray has no more CPU than the "
        "local run here; on separate machines each node brings its own.")
MODELS = "fsrcnn-small-x2,fsrcnn-small-x3,fsrcnn-small-x4,fsrcnn-x2"  # ship in the package


def one_run(argv: list[str], out: Path, env: dict[str, str]) -> float:
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    done = subprocess.run(argv + ["--out", str(out)], env=env, capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr[-2000:]}")
    rows = json.loads(done.stdout)
    assert rows and all(r["ok"] for r in rows), rows
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--models", default=MODELS)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ep-cs-", dir="/tmp"))
    (work / "home").mkdir()
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "HOME": str(work / "home"),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    ray_dir = str(work / "ray")
    base = [sys.executable, "-m", "edgephoto.cli.main", "convert", "--model", args.models,
            "--target", "onnx,tflite", "--json"]
    runs: dict[str, list[float]] = {"local": [], "ray 2 nodes": []}
    try:
        address, cluster_s = start_cluster(ray_dir, env)
        contenders = {"local": [], "ray 2 nodes": ["--executor", "ray", "--address", address]}
        names = list(contenders)
        for round_no in range(args.rounds):
            for name in names[round_no % 2:] + names[:round_no % 2]:
                runs[name].append(one_run(base + contenders[name], work / "out", env))
                print(f"round {round_no + 1} {name}: {runs[name][-1]:.1f} s", file=sys.stderr)
    finally:
        stop_cluster(ray_dir)
    ratios = [r / loc for r, loc in zip(runs["ray 2 nodes"], runs["local"], strict=True)]
    data: dict[str, Any] = {
        "what": f"edgephoto convert --model {args.models} --target onnx,tflite (fp32), real CLI subprocesses",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "note":
                    "shared 2-core machine, a CI run in parallel: absolute numbers are noisy"},
        "rounds": args.rounds, "ray_cluster_start_s": round(cluster_s, 2),
        "median_wall_s": {n: statistics.median(v) for n, v in runs.items()},
        "ray_over_local_ratio_median": statistics.median(ratios), "runs": runs,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "convert_sweep.json").write_text(json.dumps(data, indent=2) + "\n")
    lines = [
        "# Conversion sweep: local vs `--executor ray` (2 local nodes)", "",
        f"Rendered from convert_sweep.json. {data['what']}; {args.rounds} interleaved rounds, medians; "
        f"{data['machine']['note']}. Ray cluster start: {cluster_s:.1f} s, not in the runs.", "",
        "| contender | median wall (s) | runs (s) |", "|---|---|---|",
        *[f"| {n} | {data['median_wall_s'][n]:.1f} | {', '.join(f'{v:.1f}' for v in runs[n])} |" for n in runs],
        "", f"Ray / local wall time, paired per round, median: {data['ray_over_local_ratio_median']:.2f}.",
        NOTE, "",
    ]
    (RESULTS / "convert_sweep.md").write_text("\n".join(lines))
    print("\n".join(lines))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
