"""FSRCNN x2/x3/x4: OpenCV dnn_superres vs edgephoto upscale() on each installed engine. JSON + MD.

    taskset -c 0 python benchmarks/fsrcnn_speed.py [--quick] [--runs 5] [--scales 2,3,4]

Same weights (FSRCNN_x{2,3,4}.pb from the shared weights), one thread everywhere, whole call
photo in -> photo out: OpenCV's `DnnSuperResImpl.upsample` (BGR uint8 in and out: it converts
to YCrCb, runs the net on Y, resizes CrCb bicubically; edgephoto.bench's `opencv` peer, a child
process timing its own call) against `upscale()` on the artifacts
`edgephoto convert` builds (onnx/onnxruntime, openvino/openvino, tflite/litert). Runs are
interleaved (every contender once per round, order rotating) and medians are reported.

Images (LR = what both are given): Set5 (crop to a multiple of the scale, PIL bicubic down, the
data README's protocol; PSNR-Y vs HR with `scale` px shaved), a 100x100 photo, a Set14-like
500x333 photo, an Urban100-like 1000x700 photo and a 12 MP (4000x3000) photo. The last three
are real photos resized bicubically (coffee.jpg from the bundled samples; portrait 79, the
largest of the shared portraits, 1000x1500, for the two large ones); without HR, their PSNR is
edgephoto's output against OpenCV's.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
WEIGHTS = SHARED / "weights"
SET5 = SHARED / "data" / "sr" / "set5"
PORTRAIT = SHARED / "data" / "portraits" / "images" / "79.jpg"
SAMPLES = REPO / "src" / "edgephoto" / "data"
ENGINES = {"onnxruntime": "onnx", "openvino": "openvino", "litert": "tflite"}


def installed_engines() -> dict[str, str]:
    import importlib.util

    modules = {"onnxruntime": "onnxruntime", "openvino": "openvino", "litert": "ai_edge_litert"}
    return {b: t for b, t in ENGINES.items() if importlib.util.find_spec(modules[b]) is not None}


def artifacts(scale: int, targets: list[str], work: Path) -> dict[str, Path]:
    """Artifact dirs of fsrcnn-x{scale}, built once by the product's own converter."""
    model = f"fsrcnn-x{scale}"
    missing = [t for t in targets if not (work / model / f"{t}-fp32" / "manifest.json").exists()]
    if missing:
        env = {**os.environ, "EDGEPHOTO_WEIGHTS_PATH": str(WEIGHTS)}
        subprocess.run([sys.executable, "-m", "edgephoto.cli.main", "convert", "-m", model, "-t",
                        ",".join(missing), "-o", str(work)], check=True, env=env, capture_output=True)
    return {t: work / model / f"{t}-fp32" for t in targets}


def resized(path: Path, size: tuple[int, int]) -> np.ndarray:
    with Image.open(path) as photo:
        return np.asarray(photo.convert("RGB").resize(size, Image.Resampling.BICUBIC))


def images(scale: int, quick: bool) -> list[dict[str, Any]]:
    """[{group, name, lr, hr or None}]; the Set5 group is reported as the mean per image."""
    from edgephoto.metrics import sr_pair

    found = []
    for path in sorted(SET5.glob("*.png")):
        hr, lr = sr_pair(np.asarray(Image.open(path).convert("RGB")), scale)
        found.append({"group": "set5", "name": path.stem, "lr": lr, "hr": hr})
    found.append({"group": "100px", "name": "astronaut 100x100", "lr": resized(SAMPLES / "astronaut.jpg", (100, 100)), "hr": None})
    found.append({"group": "set14-like", "name": "coffee 500x333", "lr": resized(SAMPLES / "coffee.jpg", (500, 333)), "hr": None})
    found.append({"group": "urban100-like", "name": "portrait 79 1000x700", "lr": resized(PORTRAIT, (1000, 700)), "hr": None})
    if not quick:
        found.append({"group": "12mp", "name": "portrait 79 4000x3000", "lr": resized(PORTRAIT, (4000, 3000)), "hr": None})
    return found


class OpenCV:
    """OpenCV dnn_superres through edgephoto.bench's `opencv` peer: a child process given the LR
    images once, timing its own `upsample` call per image index (RGB<->BGR copies included)."""

    name = "opencv"

    def __init__(self, scale: int, images: list[np.ndarray], work: Path, memory_limit: int | None = None) -> None:
        from edgephoto.bench.peer_runs import PeerRun, write_inputs
        from edgephoto.bench.peers import PEERS

        peer = PEERS.get("opencv")
        why = peer.missing()
        if why:
            raise SystemExit(why)
        self.work = work / "opencv-peer"
        run = PeerRun(peer, f"fsrcnn-x{scale}", "call", write_inputs(images, self.work, f"lr-x{scale}"),
                      threads=1, warmup=0)
        self.worker = run.worker(memory_limit)
        self.facts = self.worker.receive("ready")["backend"]

    def time(self, k: int) -> tuple[float, float]:
        """(wall s, CPU s) of one timed call on image k."""
        wall, cpu = self.worker.ask(f"run {k}", "ms")
        return float(wall) / 1e3, float(cpu) / 1e3

    def output(self, k: int) -> np.ndarray:
        path = self.work / "opencv-out.npy"
        self.worker.ask(f"keep {k} {path}", "kept")
        out = np.load(path)
        path.unlink()
        return out

    def close(self) -> dict[str, Any]:
        done = dict(self.worker.ask("stop", "done"))
        self.worker.stop()
        return done


class Edgephoto:
    def __init__(self, backend_name: str, artifact: Path) -> None:
        from edgephoto.runtime.artifact import load_artifact

        self.name = backend_name
        self.backend, self.manifest = load_artifact(artifact, backend=backend_name, threads=1)

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        from edgephoto.runtime.tasks.upscale import upscale

        out = upscale(self.backend, self.manifest, rgb)
        assert out is not None
        return out


OPENCV_MEMORY_LIMIT = 14 << 30  # address space for OpenCV's 12 MP child: its whole-photo x4 run
# took 22 GB here and the kernel's OOM killer ended the benchmark on this 24 GB machine


def opencv_isolated(scale: int, lr: np.ndarray, work: Path) -> tuple[dict[str, Any], np.ndarray | None]:
    """(timings or the failure, output or None) of OpenCV on a photo too big to share a process:
    a peer child of its own under OPENCV_MEMORY_LIMIT, one timed call."""
    from edgephoto.errors import EdgePhotoError

    try:
        peer = OpenCV(scale, [lr], work, OPENCV_MEMORY_LIMIT)
        wall, cpu = peer.time(0)
        out = peer.output(0)
        done = peer.close()
    except EdgePhotoError as exc:
        return {"failed": f"under a {OPENCV_MEMORY_LIMIT >> 30} GB address-space limit: {str(exc)[:200]}"}, None
    return {"ms": 1e3 * wall, "cpu_ms": 1e3 * cpu, "peak_rss_bytes": int(done["peak_rss_mb"] * 2**20)}, out


def bench_scale(scale: int, engines: dict[str, str], work: Path, runs: int, quick: bool) -> list[dict[str, Any]]:
    from edgephoto.metrics import psnr, psnr_y
    from edgephoto.runtime.tasks.common import ModelFacts
    from edgephoto.runtime.tasks.upscale import plan

    found = artifacts(scale, list(engines.values()), work)
    contenders: list[Any] = [Edgephoto(b, found[t]) for b, t in engines.items()]
    facts = ModelFacts.load(contenders[0].manifest) if contenders else None
    listed = images(scale, quick)
    small = [image for image in listed if image["lr"].shape[0] * image["lr"].shape[1] <= 4_000_000]
    opencv = OpenCV(scale, [image["lr"] for image in small], work)
    rows = []
    for image in listed:
        lr, hr = image["lr"], image["hr"]
        tile, _ = plan(facts, *lr.shape[:2], batch=1, budget_bytes=None, overlap=24) if facts else ((0, 0), 0)
        row: dict[str, Any] = {"scale": scale, "group": image["group"], "image": image["name"],
                               "lr_hw": list(lr.shape[:2]),
                               "edgephoto_engine_call": "whole" if tuple(tile) == lr.shape[:2] else f"tiles {tile[0]}x{tile[1]}",
                               "ms": {}, "cpu_ms": {}, "psnr_y_vs_hr": {}, "psnr_vs_opencv": {}}
        if lr.shape[0] * lr.shape[1] > 4_000_000:  # 12 MP: one call each, OpenCV in its own process
            row["rounds"] = 1
            timing, reference = opencv_isolated(scale, lr, work)
            row["opencv_child"] = timing
            row["ms"]["opencv"], row["cpu_ms"]["opencv"] = timing.get("ms"), timing.get("cpu_ms")
            for c in contenders:
                started, cpu_started = time.perf_counter(), time.process_time()
                out = c(lr)
                row["ms"][c.name] = 1e3 * (time.perf_counter() - started)
                row["cpu_ms"][c.name] = 1e3 * (time.process_time() - cpu_started)
                row["psnr_vs_opencv"][c.name] = psnr(reference, out) if reference is not None else None
                del out
            del reference
        else:
            row["rounds"] = runs
            k = next(i for i, other in enumerate(small) if other is image)
            outputs = {c.name: c(lr) for c in contenders}  # warm-up (and outputs)
            outputs["opencv"] = opencv.output(k)  # its warm-up (and output)
            everyone = ["opencv", *(c.name for c in contenders)]
            times: dict[str, list[float]] = {name: [] for name in everyone}
            cpu: dict[str, list[float]] = {name: [] for name in everyone}
            by_name = {c.name: c for c in contenders}
            for r in range(runs):
                for name in everyone[r % len(everyone):] + everyone[: r % len(everyone)]:
                    if name == "opencv":  # timed by the peer child around its own call
                        wall, cpu_s = opencv.time(k)
                        times[name].append(wall)
                        cpu[name].append(cpu_s)
                        continue
                    started, cpu_started = time.perf_counter(), time.process_time()
                    outputs[name] = by_name[name](lr)
                    times[name].append(time.perf_counter() - started)
                    cpu[name].append(time.process_time() - cpu_started)
            for c in [opencv, *contenders]:
                row["ms"][c.name] = 1e3 * float(np.median(times[c.name]))
                row["cpu_ms"][c.name] = 1e3 * float(np.median(cpu[c.name]))
                if hr is not None:
                    row["psnr_y_vs_hr"][c.name] = psnr_y(hr, outputs[c.name], scale)
                if c.name != "opencv":
                    row["psnr_vs_opencv"][c.name] = psnr(outputs["opencv"], outputs[c.name])
            del outputs
        rows.append(row)
        print(json.dumps({k: row[k] for k in ("scale", "group", "image", "ms", "cpu_ms")}), file=sys.stderr, flush=True)
    opencv.close()
    return rows


def _mean(values: list[Any]) -> float | None:
    return None if any(v is None for v in values) else float(np.mean(values))


def _ratio(value: float | None, base: float | None) -> float | None:
    return round(value / base, 3) if value is not None and base else None


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per (scale, group): ms per image (Set5: mean of the per-image medians), ratios
    edgephoto/OpenCV (< 0.5 = the goal), PSNR (Set5: mean PSNR-Y vs HR)."""
    table = []
    for scale in sorted({r["scale"] for r in rows}):
        for group in dict.fromkeys(r["group"] for r in rows if r["scale"] == scale):
            part = [r for r in rows if r["scale"] == scale and r["group"] == group]
            names = list(part[0]["ms"])
            ms = {n: _mean([r["ms"][n] for r in part]) for n in names}
            cpu = {n: _mean([r["cpu_ms"][n] for r in part]) for n in names}
            line: dict[str, Any] = {
                "scale": scale, "group": group, "images": len(part), "lr_hw": part[0]["lr_hw"],
                "engine_call": part[0]["edgephoto_engine_call"] if len(part) == 1 else
                sorted({r["edgephoto_engine_call"] for r in part}),
                "ms_per_image": {n: None if v is None else round(v, 2) for n, v in ms.items()},
                "ratio_vs_opencv": {n: _ratio(ms[n], ms["opencv"]) for n in names if n != "opencv"},
                "cpu_ms_per_image": {n: None if v is None else round(v, 2) for n, v in cpu.items()},
                "cpu_ratio_vs_opencv": {n: _ratio(cpu[n], cpu["opencv"]) for n in names if n != "opencv"},
            }
            if "opencv_child" in part[0]:
                line["opencv_child"] = part[0]["opencv_child"]
            if part[0]["psnr_y_vs_hr"]:
                line["psnr_y_vs_hr"] = {n: round(float(np.mean([r["psnr_y_vs_hr"][n] for r in part])), 3) for n in names}
            line["psnr_vs_opencv"] = {n: None if (v := _mean([r["psnr_vs_opencv"][n] for r in part])) is None
                                      else round(v, 2) for n in names if n != "opencv"}
            table.append(line)
    return table


def markdown(data: dict[str, Any]) -> str:
    engines = data["engines"]
    lines = ["# FSRCNN: OpenCV dnn_superres vs edgephoto upscale() (1 thread, whole call)", "",
             f"{data['created']}; {data['host']['cpu']}; load average at start {data['host']['loadavg_start']}, "
             f"at end {data['host']['loadavg_end']}; OpenCV {data['opencv_version']}; medians of "
             f"{data['runs']} interleaved rounds (12 MP: 1 round). Ratio = edgephoto / OpenCV (goal <= 0.5).",
             "CPU ms (process time: what the call itself spent on its core) lead; wall ms follow, and "
             "match CPU ms only on an idle machine.", "",
             "| scale | image | LR size | edgephoto call | OpenCV CPU ms | "
             + " | ".join(f"{e} CPU ms (ratio)" for e in engines) + " | wall ms: OpenCV / " + " / ".join(engines)
             + " | PSNR-Y vs HR: OpenCV / " + " / ".join(engines) + " | PSNR vs OpenCV |",
             "|---" * (7 + len(engines)) + "|---|"]
    for line in data["summary"]:
        ms, cpu, ratio = line["ms_per_image"], line["cpu_ms_per_image"], line["cpu_ratio_vs_opencv"]
        cells = " | ".join(f"{_num(cpu[e])} ({_num(ratio[e], 2)})" for e in engines)
        wall = " / ".join(_num(ms[n]) for n in ["opencv", *engines])
        hr = line.get("psnr_y_vs_hr")
        hr_text = " / ".join(f"{hr[n]:.3f}" for n in ["opencv", *engines]) if hr else "-"
        vs = " / ".join(_num(line["psnr_vs_opencv"][e]) for e in engines)
        size = "x".join(str(v) for v in line["lr_hw"]) if line["images"] == 1 else f"{line['images']} images"
        call = line["engine_call"] if isinstance(line["engine_call"], str) else ", ".join(line["engine_call"])
        lines.append(f"| x{line['scale']} | {line['group']} | {size} | {call} | {_num(cpu['opencv'])} | {cells} "
                     f"| {wall} | {hr_text} | {vs} |")
    lines += ["", "Set5 rows: mean over the 5 images of each image's median ms; PSNR-Y is the Set5 mean "
              "(protocol of shared/data/README.md). PSNR vs OpenCV: edgephoto's RGB output against "
              "OpenCV's (dB, mean over images). LR sizes are height x width.", ""]
    for line in data["summary"]:
        child = line.get("opencv_child")
        if child and "failed" in child:
            lines.append(f"- x{line['scale']} {line['group']}: OpenCV failed ({child['failed']}); edgephoto "
                         "tiles within its 256 MB default budget.")
        elif child:
            lines.append(f"- x{line['scale']} {line['group']}: OpenCV ran in its own process, peak RSS "
                         f"{child['peak_rss_bytes'] / 2**30:.1f} GB (whole photo in one call).")
    return "\n".join(lines) + "\n"


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds, no 12 MP photo")
    parser.add_argument("--runs", type=int, default=None, help="interleaved rounds (default 7, quick 3)")
    parser.add_argument("--scales", default="2,3,4")
    parser.add_argument("--engines", default=None, help="comma list (default: every installed one)")
    parser.add_argument("--work", default=str(REPO / ".cache" / "fsrcnn-speed"), help="artifact dir (reused)")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "fsrcnn_speed"),
                        help="output stem (.json and .md are written)")
    args = parser.parse_args()
    runs = args.runs or (3 if args.quick else 7)
    engines = installed_engines()
    if args.engines:
        wanted = args.engines.split(",")
        unknown = [e for e in wanted if e not in ENGINES]
        if unknown:
            parser.error(f"unknown engine {unknown[0]!r}; valid: {', '.join(ENGINES)}")
        engines = {e: t for e, t in engines.items() if e in wanted}
    load_start = os.getloadavg()
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown")
    rows: list[dict[str, Any]] = []
    for scale in (int(s) for s in args.scales.split(",")):
        rows += bench_scale(scale, engines, Path(args.work), runs, args.quick)
        data = {  # written after every scale: a later failure keeps what was measured
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "host": {"cpu": cpu, "affinity": sorted(os.sched_getaffinity(0)),
                     "loadavg_start": [round(v, 2) for v in load_start],
                     "loadavg_end": [round(v, 2) for v in os.getloadavg()]},
            "opencv_version": opencv_version(), "threads": 1, "runs": runs, "quick": args.quick,
            "engines": list(engines), "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "summary": summarize(rows), "rows": rows,
        }
        write(Path(args.out), data)


def opencv_version() -> str:
    import importlib.metadata

    return importlib.metadata.version("opencv-contrib-python")


def write(out: Path, data: dict[str, Any]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    for suffix, text in ((".json", json.dumps(data, indent=2) + "\n"), (".md", markdown(data))):
        tmp = out.with_name(f".{out.name}{suffix}.tmp")
        tmp.write_text(text)
        os.replace(tmp, out.with_suffix(suffix))


if __name__ == "__main__":
    main()
