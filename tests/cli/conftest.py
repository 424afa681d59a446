"""The Ray cluster the --executor ray tests share: started once per session (~20 s)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgephoto.batch.local_cluster import stop_cluster


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[tuple[str, dict[str, str], str]]:
    """(address, env, temp dir) of a head node plus a worker node on 127.0.0.1, 1 CPU each."""
    temp_dir = tempfile.mkdtemp(prefix="ep-ray-", dir="/tmp")  # short: Ray's unix sockets live under it
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    (Path(temp_dir) / "home").mkdir()
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "HOME": f"{temp_dir}/home",
           "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}  # the nodes import this edgephoto
    ray = str(Path(sys.executable).with_name("ray"))
    try:
        for argv in ([ray, "start", "--head", "--port", str(port), "--node-ip-address", "127.0.0.1",
                      "--temp-dir", temp_dir, "--num-cpus", "1", "--include-dashboard=false",
                      "--disable-usage-stats"],
                     [ray, "start", "--address", f"127.0.0.1:{port}", "--node-ip-address", "127.0.0.1",
                      "--num-cpus", "1"]):
            done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stdout[-1500:] + done.stderr[-1500:]
        yield f"127.0.0.1:{port}", env, temp_dir
    finally:
        stop_cluster(temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)
