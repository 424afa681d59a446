"""The parent side of peers in a benchmark: which peers join, their inputs, their result rows.

Peer rows carry the same keys and statistics as the artifacts' rows (report.RESULT_KEYS), so
every report and `bench compare` reads them; `attach_versus` adds, to each of our rows, its
`stats.versus` ratios against every peer of the same model measured in the same run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgephoto.bench import stats
from edgephoto.bench.peers import Peer, peer_command, peers_for
from edgephoto.bench.worker import Worker


def write_inputs(arrays: Sequence[np.ndarray], folder: Path, stem: str) -> list[Path]:
    """RGB uint8 arrays as .npy files the peer child loads (its venv may lack Pillow)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, array in enumerate(arrays):
        path = folder / f"{stem}-{k}.npy"
        np.save(path, np.ascontiguousarray(array, np.uint8))
        paths.append(path)
    return paths


def weights_file(peer: Peer, model: str) -> Path | None:
    """The zoo model's own source file for a peer that runs it (None: the tool ships its model)."""
    if peer.weights != "zoo":
        return None
    from edgephoto.zoo import get_model
    from edgephoto.zoo.weights import resolve

    spec = get_model(model)
    return resolve(spec) / spec.files[0].path


class PeerRun:
    """One peer measuring one model: its child's settings and, afterwards, its result row."""

    def __init__(self, peer: Peer, model: str, mode: str, inputs: list[Path], *, threads: int | None,
                 warmup: int) -> None:
        from edgephoto.zoo import get_model

        self.peer, self.model, self.mode = peer, model, mode
        weights = weights_file(peer, model)
        # every file of the model (a TF.js model.json is a few kB; its shards hold the weights)
        self.size_bytes = sum(p.stat().st_size for p in weights.parent.iterdir() if p.is_file()) if weights else 0
        self.label = f"peer {peer.name}: {model}"
        self.settings = {"mode": mode, "model": model, "weights": str(weights or ""),
                         "scale": get_model(model).scale, "threads": threads, "warmup": warmup,
                         "inputs": [str(p) for p in inputs]}

    def worker(self, memory_limit: int | None = None) -> Worker:
        return Worker(self.label, peer_command(self.peer, self.settings), memory_limit=memory_limit)

    def result(self, ready: dict[str, Any], final: dict[str, Any], times: list[float],
               cpu_times: list[float]) -> dict[str, Any]:
        summary = stats.summarize(times)
        backend = ready["backend"]
        return {
            "label": self.label, "artifact": None, "peer": self.peer.name, "tool": self.peer.tool,
            "mode": self.mode, "model": self.model, "task": None, "target": None, "precision": "fp32",
            "size_bytes": int(backend.get("size_bytes") or self.size_bytes), "backend": backend,
            "warnings": ready.get("warnings", []), "feed": ready.get("feed", {}),
            "load": {"verify_ms": 0.0, **ready["load"]}, "latency_ms": summary,
            "cpu_ms": stats.summarize(cpu_times),
            "throughput_per_s": 1000.0 / summary["mean"] if summary["mean"] else None,
            "peak_rss_mb": final["peak_rss_mb"], "base_rss_mb": ready.get("base_rss_mb"),
            "quality": {}, "work": None, "samples_ms": times, "cpu_samples_ms": cpu_times,
        }


def plan(models: Sequence[str], mode: str, chosen: list[str] | None, inputs: dict[str, list[Path]], *,
         threads: int | None, warmup: int) -> tuple[list[PeerRun], list[dict[str, Any]]]:
    """PeerRuns for every applicable, installed peer of each model, and one status per peer
    considered ('measured' or why not, with the install command)."""
    runs: list[PeerRun] = []
    status: list[dict[str, Any]] = []
    for model in dict.fromkeys(models):
        for peer, missing in peers_for(model, mode, chosen):
            status.append({"peer": peer.name, "tool": peer.tool, "model": model,
                           "status": "measured" if missing is None else "not measured",
                           "message": missing or f"peer {peer.name}: measured ({mode} runs)"})
            if missing is None:
                runs.append(PeerRun(peer, model, mode, inputs[model], threads=threads, warmup=warmup))
    return runs, status


def attach_versus(results: list[dict[str, Any]]) -> None:
    """Each of our rows gets `vs_peers`: {peer label: stats.versus(row, peer row)} (same model)."""
    peers = [r for r in results if r.get("peer")]
    for row in results:
        if row.get("peer"):
            continue
        row["vs_peers"] = {p["label"]: stats.versus(row, p) for p in peers if p["model"] == row["model"]}
