"""Photos per second of `edgephoto run DIR --steps segment`: one process vs 2 local workers vs
Ray with two local worker nodes, and Ray's overhead per photo.

Each contender runs the real CLI as a subprocess on a fresh --out, on N=10, 30 and 60 portraits
(copies of shared/data/portraits), in interleaved rounds (the order rotates each round); the
medians are reported. A run's wall time includes interpreter start, model load and (Ray) the
driver joining the cluster; the least-squares slope of wall time over N within one round is the
cost per photo once running (median over rounds), the intercept the fixed cost. Ray's overhead per photo = its slope minus the 2-local-workers
slope (same 2 workers, 1 engine thread each). The Ray cluster (head + one more node, 1 CPU each,
127.0.0.1) is started once, before the rounds, and its start time reported apart.

    python benchmarks/batch_throughput.py --artifacts DIR_WITH_SELFIE [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from edgephoto.batch.local_cluster import stop_cluster

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PORTRAITS = Path(os.environ.get("EDGEPHOTO_SHARED") or ROOT.parent / "shared") / "data" / "portraits" / "images"
SIZES = (10, 30, 60)  # photos per run; 30 is the headline, the slope uses all three


def start_cluster(temp_dir: str, env: dict[str, str]) -> tuple[str, float]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ray = str(Path(sys.executable).with_name("ray"))
    started = time.perf_counter()
    for argv in ([ray, "start", "--head", "--port", str(port), "--node-ip-address", "127.0.0.1", "--temp-dir",
                  temp_dir, "--num-cpus", "1", "--include-dashboard=false", "--disable-usage-stats"],
                 [ray, "start", "--address", f"127.0.0.1:{port}", "--node-ip-address", "127.0.0.1", "--num-cpus", "1"]):
        subprocess.run(argv, env=env, check=True, capture_output=True, timeout=180)
    return f"127.0.0.1:{port}", time.perf_counter() - started


def one_run(argv: list[str], out: Path, env: dict[str, str]) -> dict[str, Any]:
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    done = subprocess.run(argv + ["--out", str(out)], env=env, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr[-2000:]}")
    report = json.loads((out / "run-summary.json").read_text())
    assert report["done"] == report["photos"], report
    photos = [json.loads(p.read_text()) for p in out.glob("*.json") if p.name != "run-summary.json"]
    return {"wall_s": wall, "in_run_s": report["seconds"], "workers": report["workers"],
            "threads": report["threads_per_worker"],
            "segment_s_median": statistics.median(p["timings_s"]["segment"] for p in photos)}


def _fit(points: list[tuple[int, float]]) -> tuple[float, float]:
    """(slope, intercept) of the least-squares line through (photos, seconds)."""
    mean_x = statistics.fmean(x for x, _ in points)
    mean_y = statistics.fmean(y for _, y in points)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sum((x - mean_x) ** 2 for x, _ in points)
    return slope, mean_y - slope * mean_x


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ep-bt-", dir="/tmp"))
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "HOME": str(work / "home"),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    (work / "home").mkdir()
    libraries = {}
    for size in SIZES:
        libraries[size] = work / f"lib{size}"
        libraries[size].mkdir()
        for n in range(1, size + 1):
            shutil.copy(PORTRAITS / f"{n}.jpg", libraries[size] / f"p{n}.jpg")
    ray_dir = str(work / "ray")
    try:
        address, cluster_s = start_cluster(ray_dir, env)
        base = [sys.executable, "-m", "edgephoto.cli.main", "run", "--steps", "segment",
                "--artifacts", str(args.artifacts), "--no-build"]
        contenders = {"one process": ["--workers", "1"], "local 2 workers": ["--workers", "2"],
                      "ray 2 workers": ["--executor", "ray", "--address", address]}
        runs: dict[str, dict[int, list[dict[str, Any]]]] = {c: {s: [] for s in SIZES} for c in contenders}
        names = list(contenders)
        for round_no in range(args.rounds):
            order = names[round_no % len(names):] + names[:round_no % len(names)]
            for size in SIZES:
                for name in order:
                    result = one_run(base + [str(libraries[size])] + contenders[name], work / "out", env)
                    runs[name][size].append(result)
                    print(f"round {round_no + 1} N={size} {name}: {result['wall_s']:.2f} s", file=sys.stderr)
    finally:
        stop_cluster(ray_dir)
    table: dict[str, dict[str, Any]] = {}
    slopes: dict[str, list[float]] = {}
    for name in names:
        wall = {s: statistics.median(r["wall_s"] for r in runs[name][s]) for s in SIZES}
        in_run = {s: statistics.median(r["in_run_s"] for r in runs[name][s]) for s in SIZES}
        fits = [_fit([(s, runs[name][s][k]["wall_s"]) for s in SIZES]) for k in range(args.rounds)]
        slope = statistics.median(f[0] for f in fits)
        slopes[name] = [f[0] for f in fits]
        table[name] = {
            "workers": runs[name][SIZES[1]][0]["workers"], "threads_per_worker": runs[name][SIZES[1]][0]["threads"],
            "median_wall_s": wall, "median_in_run_s": in_run,
            "photos_per_s_wall_30": SIZES[1] / wall[SIZES[1]],
            "photos_per_s_in_run_30": SIZES[1] / in_run[SIZES[1]],
            "seconds_per_photo_running": slope, "photos_per_s_running": 1 / slope if slope > 0 else None,
            "fixed_cost_s": statistics.median(f[1] for f in fits), "slope_per_round": slopes[name],
            "segment_step_s_median": statistics.median(r["segment_s_median"] for s in SIZES for r in runs[name][s]),
        }
    overhead = statistics.median(r - loc for r, loc in zip(slopes["ray 2 workers"], slopes["local 2 workers"],
                                                            strict=True))  # paired within each round
    data = {
        "what": "edgephoto run DIR --steps segment (the selfie artifact given, onnx fp32 here), real CLI subprocesses, portraits 1..N",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "note":
                    "shared 2-core machine, a CI run in parallel: absolute numbers are noisy, ratios in one run hold"},
        "rounds": args.rounds, "sizes": list(SIZES), "ray_cluster_start_s": round(cluster_s, 2),
        "contenders": table, "ray_overhead_s_per_photo": overhead,
        "runs": {n: {str(s): v for s, v in r.items()} for n, r in runs.items()},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "batch_throughput.json").write_text(json.dumps(data, indent=2) + "\n")
    lines = [
        "# Batch throughput: `edgephoto run DIR --steps segment`",
        "",
        f"Rendered from batch_throughput.json. {data['what']}; {args.rounds} interleaved rounds, medians; "
        f"{data['machine']['note']}. Ray cluster start (head + 1 node): {cluster_s:.1f} s, not in the runs.",
        "",
        "| contender | workers x threads | wall N=10 (s) | wall N=30 (s) | wall N=60 (s) | photos/s N=30 (wall) | photos/s N=30 (in run) "
        "| s/photo running (slope) | fixed cost (s) | segment step per photo (s) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, row in table.items():
        lines.append(f"| {name} | {row['workers']} x {row['threads_per_worker'] or 'engine default'} | "
                     f"{row['median_wall_s'][10]:.2f} | {row['median_wall_s'][30]:.2f} | {row['median_wall_s'][60]:.2f} | "
                     f"{row['photos_per_s_wall_30']:.2f} | {row['photos_per_s_in_run_30']:.2f} | "
                     f"{row['seconds_per_photo_running']:.3f} | {row['fixed_cost_s']:.2f} | "
                     f"{row['segment_step_s_median']:.3f} |")
    lines += ["", f"Ray's overhead per photo (its slope minus 2 local workers', paired per round, median): "
              f"{overhead * 1000:.0f} ms.",
              "The segment step column is the median of the photos' own `timings_s.segment` (model run "
              "plus mask refinement inside a worker), the cost per photo without any hand-off.", ""]
    (RESULTS / "batch_throughput.md").write_text("\n".join(lines))
    print("\n".join(lines))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
