"""`kill -9` a real `edgephoto run DIR` at random points, start it again until it finishes:
every photo done exactly once, nothing partial left, inputs untouched."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgephoto.batch.journal import JOURNAL_NAME
from edgephoto.runtime.image_io import read_photo
from shared_dir import PORTRAITS

PHOTOS = 10
KILLS = 3


def _lines(out: Path) -> int:
    path = out / JOURNAL_NAME
    return path.read_bytes().count(b"\n") if path.exists() else 0


@pytest.mark.real
@pytest.mark.shared("data/portraits")
def test_kill_9_at_random_points_then_resume_does_each_photo_once(
    tmp_path: Path, zoo_weights: object
) -> None:
    from edgephoto.api import artifact_cache, auto_zoo_artifact

    selfie, _, _ = auto_zoo_artifact("selfie", artifacts=artifact_cache())  # the session cache's, built once
    library = tmp_path / "library"
    (library / "album").mkdir(parents=True)
    for n in range(1, PHOTOS + 1):
        shutil.copy(PORTRAITS / f"{n}.jpg", library / ("album" if n % 2 else "") / f"p{n}.jpg")
    before = {p: p.read_bytes() for p in library.rglob("*") if p.is_file()}
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "edgephoto.cli.main", "run", str(library), "--steps", "segment",
            "--artifacts", str(selfie.parents[1]), "--no-build", "--out", str(out), "--workers", "2"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    kills_mid_run, runs = 0, 0
    while True:
        runs += 1
        assert runs <= KILLS + 3, f"seed {seed}: no finished run after {runs - 1} starts"
        seen = _lines(out)
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if runs <= KILLS:
            deadline = time.monotonic() + 40
            while proc.poll() is None and _lines(out) == seen and time.monotonic() < deadline:
                time.sleep(0.02)  # photos are being done: now pick a random moment
            time.sleep(rng.uniform(0.0, 0.6))
            if proc.poll() is None:
                proc.kill()  # SIGKILL: no handler, no cleanup
                proc.wait()
                kills_mid_run += 0 < _lines(out) < PHOTOS
                continue
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, f"seed {seed}: {err.decode()[-2000:]}"
        break
    assert kills_mid_run >= 1, f"seed {seed}: no kill landed while photos were being done"

    entries = [json.loads(line) for line in (out / JOURNAL_NAME).read_text().splitlines()]
    inputs = sorted(str(p.resolve()) for p in before)
    assert sorted(e["input"] for e in entries) == inputs  # each photo exactly once
    report = json.loads((out / "run-summary.json").read_text())
    assert report["failed"] == 0 and report["done"] + report["skipped"] == PHOTOS
    stems = {e["stem"] for e in entries}
    assert stems == {f"p{n}" for n in range(1, PHOTOS + 1)}
    expected = {JOURNAL_NAME, "run-summary.json"} | {f"{s}.{k}" for s in stems for k in ("json", "mask.png")}
    assert {p.name for p in out.iterdir()} == expected  # no temp or partial file left
    for entry in entries:
        source = read_photo(entry["input"])
        mask = read_photo(out / f"{entry['stem']}.mask.png")
        assert mask.size == source.size and 0.05 < (mask.rgb[..., 0] > 127).mean() < 0.95
        assert json.loads((out / f"{entry['stem']}.json").read_text())["ok"]
    assert {p: p.read_bytes() for p in library.rglob("*") if p.is_file()} == before
