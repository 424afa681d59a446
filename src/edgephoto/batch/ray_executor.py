"""The batch job on a Ray cluster: one actor per worker CPU, the artifacts shipped once.

The driver puts every artifact directory the job needs (a few MB) into the object store once;
each actor writes them into a temp dir of its own node and loads its models once. Photos go to
the actors as bytes and come back as encoded outputs, which the driver writes with the same
atomic writer and journals as local workers' photos are, so a killed driver resumes from the
journal. A lost actor (its process or node killed) loses only its photos in flight: they are
queued again for the actors that are left. The nodes need edgephoto and an engine installed.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from edgephoto.batch.job import Job
from edgephoto.errors import EdgePhotoError, InputFileError, require

IN_FLIGHT_PER_ACTOR = 2  # one running, one queued: the actor never waits on the driver


def _pack(artifacts: Mapping[str, Path]) -> dict[str, dict[str, bytes]]:
    """role -> {relative path: bytes} of every file in the role's artifact directory."""
    bundle: dict[str, dict[str, bytes]] = {}
    for role, path in artifacts.items():
        root = path if path.is_dir() else path.parent
        bundle[role] = {str(f.relative_to(root)): f.read_bytes() for f in sorted(root.rglob("*")) if f.is_file()}
    return bundle


def failed(name: str, stem: str, job: Job, exc: EdgePhotoError,
           worker: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
    """A photo that never reached the pipeline: its summary, written as <stem>.json too."""
    summary = {"input": name, "stem": stem, "steps": list(job.order), "ok": False, "error": str(exc),
               "error_type": type(exc).__name__,
               "timings_s": {}, "total_s": 0.0, "worker": worker or {}}
    return summary, [(f"{stem}.json", (json.dumps(summary, indent=2) + "\n").encode())]


class PhotoWorker:
    """A Ray actor's body (ray.remote is applied when the executor runs): models loaded once."""

    def __init__(self, job: Job, bundle: dict[str, dict[str, bytes]]) -> None:
        from edgephoto.runtime.pipeline import Models

        self.root = Path(tempfile.mkdtemp(prefix="edgephoto-ray-"))
        paths = {}
        for role, files in bundle.items():
            for relative, data in files.items():
                target = self.root / role / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            paths[role] = self.root / role
        self.job = job
        self.models = Models(paths, job.backend, job.device, job.threads)

    def process(self, name: str, raw: bytes, stem: str) -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
        """(summary, [(output file name, bytes)...]): the photo's outputs, its <stem>.json last."""
        from edgephoto.runtime.image_io import decode_photo
        from edgephoto.runtime.pipeline import run_photo

        outputs: list[tuple[str, bytes]] = []
        worker = {"pid": os.getpid(), "host": os.uname().nodename}
        try:
            photo = decode_photo(raw, path=Path(name))
        except EdgePhotoError as exc:  # reported as run_photo reports a failed photo
            return failed(name, stem, self.job, exc, worker)
        summary = run_photo(photo, stem, self.job.order, self.job.out_dir, self.models, options=self.job.options,
                            protect=(), sink=lambda path, data: outputs.append((path.name, data)))
        summary.pop("exception", None)
        summary["worker"] = worker
        return json.loads(json.dumps(summary, default=str)), outputs

    def pid(self) -> int:
        return os.getpid()

    def close(self) -> None:
        self.models.close()
        shutil.rmtree(self.root, ignore_errors=True)


def run_ray(job: Job, todo: list[tuple[Path, str]], artifacts: Mapping[str, Path], workers: int | None,
            address: str | None, *, stop: Callable[[], bool],
            facts: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
    """Summaries of `todo` photos as the cluster finishes them, outputs already written; `facts`
    gets the number of actors ("workers") and of actors lost ("workers_lost")."""
    facts = {} if facts is None else facts
    ray = require("ray", "ray", "--executor ray")
    from edgephoto.runtime.image_io import write_bytes_atomic

    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.WARNING)
    actors: list[Any] = []
    alive: dict[int, int] = {}  # actor -> photos in flight
    try:
        count = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        facts.update(workers=count, workers_lost=0)
        bundle = ray.put(_pack(artifacts))
        remote = ray.remote(num_cpus=1, max_restarts=0, max_task_retries=0)(PhotoWorker)
        actors = [remote.options(scheduling_strategy="SPREAD").remote(job, bundle) for _ in range(count)]
        alive.update({index: 0 for index in range(len(actors))})
        queue = deque(todo)
        flying: dict[Any, tuple[int, Path, str]] = {}
        while queue or flying:
            for index in list(alive):
                while alive[index] < IN_FLIGHT_PER_ACTOR and queue and not stop():
                    photo, stem = queue.popleft()
                    try:
                        raw = photo.read_bytes()
                    except OSError as exc:
                        summary, outputs = failed(str(photo), stem, job,
                                                  InputFileError(photo, f"cannot read: {exc.strerror or exc}"))
                        write_bytes_atomic(job.out_dir / outputs[0][0], outputs[0][1], protect=job.protect)
                        yield summary
                        continue
                    ref = actors[index].process.remote(str(photo), raw, stem)
                    flying[ref] = (index, photo, stem)
                    alive[index] += 1
            if not flying:
                if queue and not stop():
                    raise EdgePhotoError("every Ray worker was lost; run the same command again to resume")
                break
            ready, _ = ray.wait(list(flying), num_returns=1)
            for ref in ready:
                index, photo, stem = flying.pop(ref)
                try:
                    summary, outputs = ray.get(ref)
                except (ray.exceptions.RayActorError, ray.exceptions.ObjectLostError):
                    if alive.pop(index, None) is not None:  # that actor is gone: its photo goes to another
                        facts["workers_lost"] += 1
                    queue.appendleft((photo, stem))
                    continue
                if index in alive:
                    alive[index] -= 1
                for name, data in outputs:
                    write_bytes_atomic(job.out_dir / name, data, protect=job.protect)
                yield summary
    finally:
        closing = [actors[index].close.remote() for index in alive]
        try:
            ray.wait(closing, num_returns=len(closing), timeout=10)
        except Exception:  # a dying actor: its node's temp dir goes with it
            pass
        for actor in actors:
            try:
                ray.kill(actor)
            except Exception:  # already dead with its node
                pass
        if started_here:
            ray.shutdown()
