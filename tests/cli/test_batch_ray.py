"""`edgephoto run --executor ray` on a real two-node local Ray cluster: one node's worker is
SIGKILLed mid-run, then the driver too; the rerun finishes with nothing lost or done twice."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgephoto.batch.journal import JOURNAL_NAME
from edgephoto.runtime.image_io import read_photo
from shared_dir import PORTRAITS

PHOTOS = 24
pytest.importorskip("ray", reason="the ray extra: pip install 'edgephoto[ray]'")


def _lines(out: Path) -> int:
    path = out / JOURNAL_NAME
    return path.read_bytes().count(b"\n") if path.exists() else 0


def _done_by(out: Path) -> set[int]:
    path = out / JOURNAL_NAME
    lines = path.read_text().splitlines() if path.exists() else []
    return {json.loads(line)["worker"]["pid"] for line in lines if line.endswith("}")}


def _photo_workers(temp_dir: str) -> list[tuple[int, int]]:
    """(pid, raylet pid) of the PhotoWorker actors, the head node's raylet first."""
    import psutil

    raylets = sorted((p for p in psutil.process_iter(["cmdline", "create_time"])
                      if any(temp_dir in part for part in p.info["cmdline"] or ())
                      and "raylet" in Path((p.info["cmdline"] or [""])[0]).name),
                     key=lambda p: p.info["create_time"])
    return [(child.pid, raylet.pid) for raylet in raylets for child in raylet.children()
            if "PhotoWorker" in " ".join(child.cmdline())]


def _wait(condition: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.05)


@pytest.mark.real
@pytest.mark.shared("data/portraits")
def test_a_lost_ray_worker_and_a_killed_driver_lose_nothing(
    tmp_path: Path, zoo_weights: object, ray_cluster: tuple[str, dict[str, str], str]
) -> None:
    from edgephoto.api import artifact_cache, auto_zoo_artifact

    address, env, temp_dir = ray_cluster
    selfie, _, _ = auto_zoo_artifact("selfie", artifacts=artifact_cache())
    library = tmp_path / "library"
    library.mkdir()
    for n in range(1, PHOTOS + 1):
        shutil.copy(PORTRAITS / f"{n}.jpg", library / f"p{n}.jpg")
    before = {p: p.read_bytes() for p in library.iterdir()}
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "edgephoto.cli.main", "run", str(library), "--steps", "segment",
            "--artifacts", str(selfie.parents[1]), "--no-build", "--out", str(out),
            "--executor", "ray", "--address", address]
    driver = subprocess.Popen(argv, env={**env, **os.environ, "HOME": env["HOME"]},
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _wait(lambda: len(_photo_workers(temp_dir)) == 2, 60)
    workers = _photo_workers(temp_dir)
    assert len(workers) == 2 and driver.poll() is None, "both actors up"
    lost_pid = workers[-1][0]  # the worker node's actor: lost once it has done a photo
    _wait(lambda: lost_pid in _done_by(out), 30)
    os.kill(lost_pid, signal.SIGKILL)
    at_loss = _lines(out)
    _wait(lambda: _lines(out) >= at_loss + 3 or driver.poll() is not None, 60)
    if driver.poll() is None:
        driver.kill()  # the driver too: the journal must carry the run
        driver.wait()
    else:  # it finished first: on the actor left, having queued the lost one's photos again
        assert driver.returncode == 0, driver.communicate()[1].decode()[-2000:]
        report = json.loads((out / "run-summary.json").read_text())
        assert (report["workers"], report["workers_lost"], report["done"]) == (2, 1, PHOTOS)
    second = subprocess.run(argv, env={**env, **os.environ, "HOME": env["HOME"]}, capture_output=True,
                            text=True, timeout=90)
    assert second.returncode == 0, second.stderr[-2000:]

    entries = [json.loads(line) for line in (out / JOURNAL_NAME).read_text().splitlines()]
    assert sorted(e["input"] for e in entries) == sorted(str(p.resolve()) for p in before)  # once each
    assert 0 < at_loss < PHOTOS  # the worker was lost mid-run
    expected = {JOURNAL_NAME, "run-summary.json"} | {f"{e['stem']}.{k}" for e in entries for k in ("json", "mask.png")}
    assert {p.name for p in out.iterdir()} == expected  # no temp or partial file
    pids = {entry["worker"]["pid"] for entry in entries}
    for entry in entries:
        summary = json.loads((out / f"{entry['stem']}.json").read_text())
        assert summary["ok"] and summary["steps"] == ["segment"]
        mask = read_photo(out / f"{entry['stem']}.mask.png")
        assert mask.size == read_photo(entry["input"]).size and 0.05 < (mask.rgb[..., 0] > 127).mean() < 0.95
    assert lost_pid in pids and len(pids) >= 3  # the lost actor had done photos; others finished them
    report = json.loads((out / "run-summary.json").read_text())
    assert report["executor"] == "ray" and report["failed"] == 0 and report["done"] + report["skipped"] == PHOTOS
    assert {p: p.read_bytes() for p in library.iterdir()} == before
