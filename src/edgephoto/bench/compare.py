"""`edgephoto bench compare A.json B.json ...`: runs from several devices merged into one result.

Each file is one `edgephoto bench` run (same schema) on one device: a Pi, a phone's page, a
laptop. Every result is labelled with its device, named from the facts the run recorded
(CPU model, architecture, system), and compared against the first file: the same artifact
there (same label), else the same model/target/precision, else the first artifact of that
model there. The merged data has the bench schema, so the report code renders it as it is,
with one table per model.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edgephoto.bench import stats
from edgephoto.errors import InvalidOptionError


def device_label(machine: dict[str, Any]) -> str:
    """A short name for the machine a run was made on, from what the run recorded."""
    if machine.get("device"):  # a run from a page or app may name its device outright
        return str(machine["device"])
    cpu = machine.get("cpu") or {}
    plat = machine.get("platform") or {}
    arch = cpu.get("arch") or plat.get("machine") or "?"
    return f"{cpu.get('model') or 'unknown CPU'} ({arch}, {plat.get('system', '?')})"


def _summary(data: dict[str, Any]) -> str:
    s, machine = data["settings"], data["machine"]
    cpu = machine.get("cpu") or {}
    peak = machine.get("peak") or {}
    parts = [f"{cpu.get('usable_cores', cpu.get('cores', '?'))} cores usable",
             f"threads {s.get('threads') or 'engine default'}", f"{s.get('runs')} runs each",
             f"created {data.get('created', '?')}"]
    if peak.get("fp32_gflops"):
        parts.append(f"peak fp32 {peak['fp32_gflops']:.1f} GFLOP/s"
                     + (f", int8 {peak['int8_gops']:.1f} GOP/s" if peak.get("int8_gops") else ""))
    return ", ".join(parts)


def _baseline(result: dict[str, Any], first: list[dict[str, Any]]) -> dict[str, Any] | None:
    def kind(r: dict[str, Any]) -> tuple[Any, ...]:
        return r["model"], r["target"], r["precision"]

    for match in (lambda r: r["run_label"] == result["run_label"], lambda r: kind(r) == kind(result),
                  lambda r: r["model"] == result["model"]):
        found = next((r for r in first if match(r)), None)
        if found is not None:
            return found
    return None


def merge(runs: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Merge (file name, validated results) pairs; ratios against the first run."""
    if len(runs) < 2:
        raise InvalidOptionError("bench compare needs at least two results files")
    devices, taken, merged = [], set(), []
    per_run: list[list[dict[str, Any]]] = []
    for name, data in runs:
        label, k = device_label(data["machine"]), 2
        while label in taken:  # two runs on one machine (say, before and after a change)
            label, k = f"{device_label(data['machine'])} #{k}", k + 1
        taken.add(label)
        devices.append({"label": label, "file": name, "summary": _summary(data),
                        "machine": data["machine"], "settings": data["settings"]})
        results = []
        for original in data["results"]:
            result = copy.deepcopy(original)
            result.update(device=label, run_label=original["label"], label=f"{original['label']} [{label}]")
            results.append(result)
        per_run.append(results)
    models_first = {r["model"] for r in per_run[0]}
    seen: dict[str, dict[str, Any]] = {}
    for k, results in enumerate(per_run):
        for result in results:
            base = None if k == 0 else _baseline(result, per_run[0])
            if base is None and result["model"] not in models_first:
                base = seen.get(result["model"])  # a model the first file lacks: its first run here
            result["vs_baseline"] = None if base is None else stats.versus(result, base)
            seen.setdefault(result["model"], result)
            merged.append(result)
    order = list(dict.fromkeys(r["model"] for r in merged))
    merged.sort(key=lambda r: order.index(r["model"]))  # one table per model, files in order within
    return {
        "schema": runs[0][1]["schema"],
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "settings": runs[0][1]["settings"],
        "machine": {},  # per device: see devices
        "devices": devices,
        "results": merged,
        "references": [],
    }


def merge_files(paths: Sequence[Path]) -> dict[str, Any]:
    from edgephoto.bench.report import read_results

    return merge([(str(p), read_results(Path(p))) for p in paths])
