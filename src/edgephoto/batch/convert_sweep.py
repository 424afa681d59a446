"""`edgephoto convert --executor ray`: one Ray task per zoo model, the artifacts shipped back.

A model's targets and precisions share intermediate graphs, so a model is the unit of work: its
task resolves the weights through the node's own zoo sources (its cache, `--weights-dir`,
EDGEPHOTO_WEIGHTS_PATH passed through the runtime_env), converts into a temp dir of its node
(which need not share the driver's file system) and returns each finished artifact directory as
bytes. The driver installs each one atomically under `--out` and journals it beside `--out`; a
rerun skips the artifacts journalled by the same job whose files still match their manifest.
A task lost with its worker or node is retried by Ray, then reported as its model's rows.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from edgephoto.batch.journal import Journal, job_id
from edgephoto.batch.ray_executor import _pack
from edgephoto.convert.api import ArtifactResult
from edgephoto.errors import EdgePhotoError, require
from edgephoto.files import install_dir, sha256_file
from edgephoto.manifest import MANIFEST_NAME, artifact_location, read_manifest, verify
from edgephoto.zoo.weights import CACHE_ENV, WEIGHTS_PATH_ENV

TASK_RETRIES = 2  # a task lost with its worker or node runs again this many times
PASSED_ENV = (WEIGHTS_PATH_ENV, CACHE_ENV)


def convert_on_node(model: str, targets: Sequence[str], precisions: tuple[str, ...],
                    options: dict[str, Any], weights_dirs: Sequence[str]
                    ) -> list[tuple[dict[str, Any], dict[str, bytes] | None]]:
    """A Ray task's body: (result, {relative path: bytes} of its artifact dir or None) per artifact."""
    from edgephoto.convert.api import convert_model
    from edgephoto.convert.targets import parse_targets
    from edgephoto.zoo import get_model
    from edgephoto.zoo.weights import resolve

    spec = get_model(model)
    chosen = parse_targets(",".join(targets))
    worker = {"pid": os.getpid(), "host": os.uname().nodename}
    try:
        root = resolve(spec, local_dirs=[Path(d) for d in weights_dirs] or None)
    except EdgePhotoError as exc:  # this model's rows fail; the other models go on
        return [({**ArtifactResult(model, t.name, p, error=str(exc), error_type=type(exc).__name__).to_dict(),
                  "worker": worker}, None) for t in chosen for p in precisions]
    scratch = Path(tempfile.mkdtemp(prefix=f"edgephoto-convert-{model}-"))
    try:
        results = convert_model(spec, root / spec.files[0].path, chosen, scratch,
                                precisions=precisions, options=options)
        shipped = []
        for r in results:
            bundle = _pack({"a": Path(r.path)})["a"] if r.ok and r.path else None
            shipped.append(({**r.to_dict(), "worker": worker}, bundle))
        return shipped
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _install(out_dir: Path, row: dict[str, Any], bundle: dict[str, bytes]) -> Path:
    """Write a shipped artifact beside its place under `out_dir`, verify it, then move it in."""
    final = artifact_location(out_dir, row["model"], row["target"], row["precision"])
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        for relative, data in bundle.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        verify(staging, json.loads(bundle[MANIFEST_NAME]))  # the bytes that came over the wire are the ones the node hashed
        install_dir(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def _installed(out_dir: Path, journal: Journal, key: dict[str, Any], model: str, target: str,
               precision: str) -> ArtifactResult | None:
    """The row of an artifact this job already installed, if its files still match its manifest."""
    entry = journal.done(key)
    final = artifact_location(out_dir, model, target, precision)
    if entry is None or not (final / MANIFEST_NAME).is_file():
        return None
    try:
        if sha256_file(final / MANIFEST_NAME) != entry["worker"].get("manifest_sha256"):
            return None
        manifest = read_manifest(final)
        verify(final, manifest)
    except (EdgePhotoError, OSError):
        return None
    return ArtifactResult(model, target, precision, path=str(final), ok=True,
                          size_bytes=sum(int(f["bytes"]) for f in manifest.get("files", [])),
                          parity=manifest.get("parity") or manifest.get("accuracy") or {})


def _lost(model: str, targets: Sequence[str], precisions: Sequence[str], exc: Exception) -> list[ArtifactResult]:
    reason = " ".join(str(exc).split())[:300]
    return [ArtifactResult(model, t, p, error=f"lost on the Ray cluster ({type(exc).__name__}: {reason}); "
                           "run the same command again to resume", error_type="ConversionError")
            for t in targets for p in precisions]


def sweep_ray(models: Sequence[str], targets: Sequence[str], out_dir: Path, *,
              precisions: tuple[str, ...], options: dict[str, Any], weights_dirs: Sequence[Path],
              address: str | None, progress: Callable[[str], None] = lambda message: None,
              ) -> list[ArtifactResult]:
    """Every (model, target, precision) row, in that order, as `convert_model` would give them."""
    ray = require("ray", "ray", "--executor ray")
    journal = Journal(out_dir, job_id(["convert"], options, None, "cpu"))

    def key(model: str, target: str, precision: str) -> dict[str, Any]:
        return {"input": f"{model}/{target}-{precision}", "size": 0, "mtime_ns": 0}

    rows: dict[str, list[ArtifactResult]] = {}
    pending = []
    for model in models:
        done = [_installed(out_dir, journal, key(model, t, p), model, t, p) for t in targets for p in precisions]
        if all(done):
            rows[model] = [r for r in done if r is not None]
            progress(f"{model}: installed already, skipped")
        else:
            pending.append(model)
            for left in (out_dir / model).glob(".*.tmp"):  # staging a killed driver left behind
                shutil.rmtree(left, ignore_errors=True)
    if not pending:
        return [r for model in models for r in rows[model]]

    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    try:
        env = {name: os.environ[name] for name in PASSED_ENV if os.environ.get(name)}
        task = ray.remote(num_cpus=1, max_retries=TASK_RETRIES)(convert_on_node).options(
            scheduling_strategy="SPREAD", runtime_env={"env_vars": env} if env else None)
        dirs = [str(d) for d in weights_dirs]
        flying = {task.remote(m, list(targets), precisions, options, dirs): m for m in pending}
        while flying:
            ready, _ = ray.wait(list(flying), num_returns=1)
            model = flying.pop(ready[0])
            try:
                shipped = ray.get(ready[0])
            except (ray.exceptions.RayError, OSError) as exc:  # retried already: this model is reported
                rows[model] = _lost(model, targets, precisions, exc)
                continue
            rows[model] = []
            for row, bundle in shipped:
                worker = row.pop("worker")
                result = ArtifactResult(**row)
                if result.ok and bundle is not None:
                    try:
                        final = _install(out_dir, row, bundle)
                    except EdgePhotoError as exc:
                        result.ok, result.path = False, None
                        result.error, result.error_type = str(exc), type(exc).__name__
                    else:
                        result.path = str(final)
                        journal.record(key(result.model, result.target, result.precision),
                                       result.model, [str(final.relative_to(out_dir))], result.seconds,
                                       {**worker, "manifest_sha256": sha256_file(final / MANIFEST_NAME)})
                rows[model].append(result)
            progress(f"{model}: converted")
    finally:
        if started_here:
            ray.shutdown()
    return [r for model in models for r in rows[model]]
