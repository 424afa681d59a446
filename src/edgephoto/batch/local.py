"""Worker processes on this machine: each loads its models once and runs photos as they come.

Processes are started with `spawn` (no fork of a driver that holds engines and threads). A
worker writes its photo's outputs itself, through the pipeline's atomic writers; only the
driver appends to the journal, after a worker reports the photo done. A worker dies with its
driver (PR_SET_PDEATHSIG on Linux, else a watchdog thread), so a `kill -9` of the driver
leaves no process writing behind the next run's back.
"""

from __future__ import annotations

import ctypes
import json
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from edgephoto.batch.job import Job
from edgephoto.errors import EdgePhotoError

_state: dict[str, Any] = {}


def _die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the driver died before prctl took hold
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _init(job: Job, artifacts: Mapping[str, Path], parent: int) -> None:
    _die_with_parent(parent)
    from edgephoto.runtime.pipeline import Models

    _state["job"] = job
    _state["models"] = Models(dict(artifacts), job.backend, job.device, job.threads)


def _work(photo: Path, stem: str) -> dict[str, Any]:
    from edgephoto.runtime.pipeline import run_photo

    job: Job = _state["job"]
    summary = run_photo(photo, stem, job.order, job.out_dir, _state["models"], options=job.options,
                        protect=job.protect)
    summary.pop("exception", None)  # EdgePhotoError children do not all survive pickling
    summary["worker"] = {"pid": os.getpid(), "host": os.uname().nodename}
    return json.loads(json.dumps(summary, default=str))


def run_local(job: Job, todo: list[tuple[Path, str]], artifacts: Mapping[str, Path], workers: int,
              *, stop: Callable[[], bool]) -> Iterator[dict[str, Any]]:
    """Summaries of `todo` photos as workers finish them; no new photo starts once `stop()`."""
    context = multiprocessing.get_context("spawn")
    window = 2 * workers  # photos in flight: enough to keep every worker busy
    queue = list(reversed(todo))
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init,
                             initargs=(job, dict(artifacts), os.getpid())) as pool:
        running: set[Future[dict[str, Any]]] = set()
        while queue or running:
            while queue and len(running) < window and not stop():
                photo, stem = queue.pop()
                running.add(pool.submit(_work, photo, stem))
            if not running:
                break
            finished, running = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                try:
                    summary = future.result()
                except BrokenProcessPool as exc:  # a worker killed or crashed (an engine's segfault)
                    raise EdgePhotoError(f"a worker process died ({exc}); the photos done so far are kept: "
                                         "run the same command again to resume") from exc
                yield summary
