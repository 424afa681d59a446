"""Stop a local Ray cluster by its temp dir, one process at a time.

`ray stop` stops every Ray cluster on the machine; a cluster started with `--temp-dir DIR` has
that DIR in every one of its processes' command lines, so its processes (and their children)
can be found and killed alone. Used by the tests' cluster fixture and the batch benchmarks.
"""

from __future__ import annotations

import os
import signal
import time


def cluster_pids(temp_dir: str) -> list[int]:
    """The processes of the cluster whose session lives in `temp_dir`, children first."""
    import psutil

    roots = [proc for proc in psutil.process_iter(["pid", "cmdline"])
             if proc.info["pid"] != os.getpid() and any(temp_dir in part for part in proc.info["cmdline"] or ())]
    pids: list[int] = []
    for root in roots:
        try:
            pids += [child.pid for child in root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
    return pids + [root.pid for root in roots]


def stop_cluster(temp_dir: str) -> None:
    """SIGKILL this cluster's processes until none is left (a killed process takes a moment to go)."""
    for _ in range(40):
        pids = cluster_pids(temp_dir)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.25)
