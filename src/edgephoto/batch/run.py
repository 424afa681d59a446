"""`run_batch`: a photo library through the pipeline, resumable, on one or many processes.

The driver reads the journal, skips photos done by the same job, removes temp files a killed
run left, runs the first pending photo itself (so a missing artifact is built once, here, and
the artifacts every worker needs are known), then hands the rest to the executor: this process
(`workers=1`), worker processes (`local`) or a Ray cluster (`ray`). Each photo's journal line is
written by the driver once the photo's outputs are in place; `run-summary.json` ends the run.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from edgephoto.batch.job import Job
from edgephoto.batch.journal import Journal, job_id, photo_key, remove_temp_files
from edgephoto.errors import EdgePhotoError, InvalidOptionError
from edgephoto.runtime.pipeline import (
    Models,
    Resolver,
    _check_out_dir,
    _unique_stem,
    check_options,
    plan,
    run_photo,
)

SUMMARY_NAME = "run-summary.json"
EXECUTORS = ("local", "ray")
# Below this many photos a worker's start (~2 s: spawn, imports, model load) costs more than it saves.
MIN_PHOTOS_PER_WORKER = 4


def cores() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def default_workers(pending: int) -> int:
    return max(1, min(cores(), pending // MIN_PHOTOS_PER_WORKER))


class Tally:
    """Counts, rate and ETA of a run, as progress lines and as the run summary."""

    def __init__(self, total: int, skipped: int, tell: Callable[[str], None]) -> None:
        self.total, self.skipped, self.done, self.failed = total, skipped, 0, 0
        self.started, self.tell = time.perf_counter(), tell

    def rate(self) -> float:
        elapsed = time.perf_counter() - self.started
        return (self.done + self.failed) / elapsed if elapsed > 0 else 0.0

    def add(self, summary: Mapping[str, Any]) -> None:
        if summary["ok"]:
            self.done += 1
        else:
            self.failed += 1
        left = self.total - self.skipped - self.done - self.failed
        rate = self.rate()
        eta = f"{left / rate:.0f}s" if rate > 0 else "?"
        self.tell(f"{self.done + self.skipped + self.failed}/{self.total} photos (done {self.done}, "
                  f"skipped {self.skipped}, failed {self.failed}), {rate:.2f} photos/s, ETA {eta}")


def run_batch(
    photos: Sequence[Path],
    steps: Sequence[str],
    out_dir: Path,
    *,
    artifacts: Resolver | None = None,
    lookup: Resolver | None = None,
    backend: str | None = None,
    device: str = "auto",
    options: Mapping[str, Mapping[str, Any]] | None = None,
    keep_going: bool = False,
    workers: int | None = None,
    executor: str = "local",
    address: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(summaries of the photos run now, the run summary also written as run-summary.json).

    `artifacts` resolves a role for the driver (it may build a missing artifact); `lookup`
    finds one without building, for the roles the first photo did not ask for. Without
    keep_going no new photo starts after a failure, and the first failure is raised.
    """
    if executor not in EXECUTORS:
        from edgephoto.errors import UnknownNameError

        raise UnknownNameError("executor", executor, EXECUTORS)
    if workers is not None and workers < 1:
        raise InvalidOptionError(f"--workers must be at least 1, got {workers}")
    order = tuple(plan(steps))
    if not order:
        raise InvalidOptionError("no steps given")
    step_options = check_options(options)
    if executor == "ray":  # before any photo runs here
        from edgephoto.errors import require

        require("ray", "ray", "--executor ray")
    inputs = _once_each(photos)
    _check_out_dir(out_dir, inputs)
    out_dir.mkdir(parents=True, exist_ok=True)
    tell = progress or (lambda message: None)
    removed = remove_temp_files(out_dir)
    journal = Journal(out_dir, job_id(order, step_options, backend, device))
    todo: list[tuple[Path, str, dict[str, Any]]] = []
    taken = {str(e["stem"]) for e in journal.entries.values() if e.get("job") == journal.job}
    for photo in inputs:
        key = photo_key(photo) if photo.is_file() else {"input": str(photo.resolve()), "size": -1, "mtime_ns": -1}
        if journal.done(key) is None:
            todo.append((photo, _unique_stem(photo.stem, taken), key))
    tally = Tally(len(inputs), len(inputs) - len(todo), tell)
    count = workers or default_workers(len(todo))
    threads = 1 if executor == "ray" else max(1, cores() // count) if count > 1 else None  # a Ray actor holds 1 CPU
    job = Job(order, out_dir, backend, device, step_options, inputs, threads)
    keys = {str(photo): key for photo, _, key in todo}
    position = {photo: index for index, photo in enumerate(inputs, 1)}
    summaries: list[dict[str, Any]] = []
    first_error: list[dict[str, Any]] = []

    def finish(summary: dict[str, Any]) -> None:
        if summary["ok"]:
            names = [Path(p).name for p in summary.get("outputs", {}).values()] + [f"{summary['stem']}.json"]
            journal.record(keys[summary["input"]], summary["stem"], names, float(summary.get("total_s", 0)),
                           summary.get("worker") or {"pid": os.getpid(), "host": os.uname().nodename})
        elif not first_error:
            first_error.append(summary)
        tally.add(summary)
        summaries.append(summary)

    def stop() -> bool:
        return bool(first_error) and not keep_going

    recorder = _Recorder(artifacts)
    models = Models(recorder, backend, device, None if count > 1 or executor == "ray" else threads)
    rest = list(todo)
    try:  # the first pending photos here, until one succeeds: it builds what is missing
        while rest and not stop() and (count == 1 and executor == "local" or not any(s["ok"] for s in summaries)):
            photo, stem, _ = rest.pop(0)
            summary = run_photo(photo, stem, order, out_dir, models, options=step_options, protect=inputs,
                                progress=tell, where=f"[{position[photo]}/{len(inputs)}] ")
            finish(summary)
    finally:
        models.close()
    facts: dict[str, Any] = {"workers": count if executor == "local" else 1}
    if rest and not stop():
        found = recorder.found(lookup)
        pending = [(photo, stem) for photo, stem, _ in rest]
        results: Iterator[dict[str, Any]]
        if executor == "ray":
            from edgephoto.batch.ray_executor import run_ray

            results = run_ray(job, pending, found, workers, address, stop=stop, facts=facts)
        else:
            from edgephoto.batch.local import run_local

            results = run_local(job, pending, found, count, stop=stop)
        for summary in results:
            finish(summary)
    report = {
        "photos": len(inputs), "done": tally.done, "skipped": tally.skipped, "failed": tally.failed,
        "not_started": len(inputs) - tally.skipped - tally.done - tally.failed,
        "seconds": round(time.perf_counter() - tally.started, 3), "photos_per_s": round(tally.rate(), 3),
        "executor": executor, "workers": facts["workers"], "threads_per_worker": threads, "steps": list(order),
        "job": journal.job, "journal": str(journal.path), "temp_files_removed": len(removed),
        "torn_journal_lines": journal.torn, **{k: v for k, v in facts.items() if k != "workers"},
    }
    from edgephoto.runtime.image_io import write_bytes_atomic

    write_bytes_atomic(out_dir / SUMMARY_NAME, (json.dumps(report, indent=2) + "\n").encode(), protect=inputs)
    if first_error and not keep_going:
        raise _as_error(first_error[0])
    for summary in summaries:
        summary.pop("exception", None)
    summaries.sort(key=lambda summary: position.get(Path(summary["input"]), 0))  # the inputs' order
    return summaries, report


def _once_each(photos: Sequence[Path]) -> tuple[Path, ...]:
    """The photos, a path named twice (DIR and a photo in it) kept the first time only."""
    seen: set[Path] = set()
    kept = []
    for photo in map(Path, photos):
        if photo.resolve() not in seen:
            seen.add(photo.resolve())
            kept.append(photo)
    return tuple(kept)


def _as_error(summary: dict[str, Any]) -> EdgePhotoError:
    """The failed photo's own exception, or one of the same class rebuilt from a worker's report."""
    exc = summary.get("exception")
    if isinstance(exc, EdgePhotoError):
        return exc
    wanted = str(summary.get("error_type"))
    classes, todo = [], [EdgePhotoError]
    while todo:
        cls = todo.pop()
        classes.append(cls)
        todo.extend(cls.__subclasses__())
    cls = next((c for c in classes if c.__name__ == wanted), EdgePhotoError)
    error = cls.__new__(cls)
    Exception.__init__(error, str(summary.get("error")))
    return error


class _Recorder:
    """The driver's resolver, remembering every role it answered (what workers must load)."""

    def __init__(self, artifacts: Resolver | None) -> None:
        self.artifacts = artifacts
        self.asked: dict[str, Path | None] = {}

    def __call__(self, role: str) -> Path | None:
        if role not in self.asked:
            if self.artifacts is None:
                found = None
            elif isinstance(self.artifacts, Mapping):
                found = self.artifacts.get(role)
            else:
                found = self.artifacts(role)
            self.asked[role] = Path(found) if found is not None else None
        return self.asked[role]

    def found(self, lookup: Resolver | None) -> dict[str, Path]:
        """role -> artifact for the roles asked, plus any other role `lookup` finds unbuilt."""
        from edgephoto.tasks import roles

        result = {role: path for role, path in self.asked.items() if path is not None}
        for role in roles():
            if role in self.asked or lookup is None:
                continue
            path = lookup.get(role) if isinstance(lookup, Mapping) else lookup(role)
            if path is not None:
                result[role] = Path(path)
        return result
