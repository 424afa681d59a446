"""Batch runs: the journal (torn lines, temp files, keys) and resume through `edgephoto run`."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from cli_runner import run
from edgephoto.batch.journal import JOURNAL_NAME, Journal, photo_key, remove_temp_files
from edgephoto.files import temp_file
from edgephoto.runtime.image_io import read_photo, sample_path


def _library(root: Path, n: int = 3) -> Path:
    root.mkdir(parents=True)
    for i, name in enumerate(["astronaut", "coffee", "chelsea"][:n]):
        shutil.copy(sample_path(name), root / f"{i}-{name}.jpg")
    return root


def test_a_torn_last_line_is_dropped_and_the_photo_is_done_again(tmp_path: Path) -> None:
    photo = shutil.copy(sample_path("astronaut"), tmp_path / "a.jpg")
    other = shutil.copy(sample_path("coffee"), tmp_path / "b.jpg")
    journal = Journal(tmp_path, "job1")
    journal.record(photo_key(Path(photo)), "a", ["a.mask.png", "a.json"], 0.1)
    with open(tmp_path / JOURNAL_NAME, "ab") as handle:  # a kill in the middle of the next append
        handle.write(b'{"input": "' + str(Path(other).resolve()).encode() + b'", "si')
    again = Journal(tmp_path, "job1")
    assert again.torn == 1 and again.done(photo_key(Path(photo))) is not None
    assert again.done(photo_key(Path(other))) is None
    assert (tmp_path / JOURNAL_NAME).read_bytes().endswith(b"\n")  # the next line starts clean
    assert Journal(tmp_path, "job2").done(photo_key(Path(photo))) is None  # other steps: not done
    os.utime(photo, ns=(1, 1))
    assert again.done(photo_key(Path(photo))) is None  # the photo changed: not done


def test_only_the_atomic_writers_temp_files_are_removed(tmp_path: Path) -> None:
    left = [temp_file(tmp_path, "a.mask.png", suffix=".tmp.png"), temp_file(tmp_path, "a.json")]
    kept = [tmp_path / "a.mask.png", tmp_path / ".notes", tmp_path / JOURNAL_NAME, tmp_path / "x.tmp"]
    for path in kept:
        path.write_bytes(b"x")
    assert sorted(remove_temp_files(tmp_path)) == sorted(left)
    assert all(path.exists() for path in kept) and not any(path.exists() for path in left)


def test_a_finished_run_does_nothing_again_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    library = _library(tmp_path / "lib")
    before = {p: p.read_bytes() for p in library.iterdir()}
    out = tmp_path / "out"
    code, stdout, err = run(["run", str(library), "--steps", "exif,tone", "--out", str(out), "--json"], capsys)
    assert code == 0, err
    assert len(json.loads(stdout)) == 3
    lines = (out / JOURNAL_NAME).read_text().splitlines()
    assert len(lines) == 3 and {json.loads(line)["stem"] for line in lines} == {"0-astronaut", "1-coffee", "2-chelsea"}
    report = json.loads((out / "run-summary.json").read_text())
    assert (report["done"], report["skipped"], report["failed"], report["workers"]) == (3, 0, 0, 1)
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.name != "run-summary.json"}

    code, stdout, err = run(["run", str(library), "--steps", "exif,tone", "--out", str(out), "--json"], capsys)
    assert code == 0 and json.loads(stdout) == [] and "nothing to do: all 3 photos are done" in err
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.name != "run-summary.json"} == stamps
    assert json.loads((out / "run-summary.json").read_text())["skipped"] == 3

    code, stdout, err = run(["run", str(library), "--steps", "tone", "--out", str(out), "--json"], capsys)
    assert code == 0 and len(json.loads(stdout)) == 3  # other steps: another job, done again
    assert {p: p.read_bytes() for p in library.iterdir()} == before


def test_a_photo_added_later_and_a_killed_runs_leftovers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    library = _library(tmp_path / "lib", 2)
    out = tmp_path / "out"
    assert run(["run", str(library), "--steps", "tone", "--out", str(out)], capsys)[0] == 0
    shutil.copy(sample_path("chelsea"), library / "2-chelsea.jpg")
    torn = temp_file(out, "2-chelsea.enhanced.jpg", suffix=".tmp.jpg")
    code, stdout, err = run(["run", str(library), "--steps", "tone", "--out", str(out), "--json"], capsys)
    assert code == 0, err
    assert [Path(s["input"]).name for s in json.loads(stdout)] == ["2-chelsea.jpg"]
    assert not torn.exists() and json.loads((out / "run-summary.json").read_text())["temp_files_removed"] == 1
    assert read_photo(out / "2-chelsea.enhanced.jpg").size == (451, 300)


def test_workers_in_processes_do_each_photo_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    library = _library(tmp_path / "lib")
    out = tmp_path / "out"
    code, stdout, err = run(["run", str(library), "--steps", "exif,wb,tone", "--out", str(out), "--workers", "2"],
                            capsys)
    assert code == 0, err
    report = json.loads((out / "run-summary.json").read_text())
    assert (report["done"], report["workers"], report["threads_per_worker"]) == (3, 2, max(1, (os.cpu_count() or 1) // 2))
    assert "photos/s" in err and "ETA" in err
    stems = [json.loads(line)["stem"] for line in (out / JOURNAL_NAME).read_text().splitlines()]
    assert sorted(stems) == ["0-astronaut", "1-coffee", "2-chelsea"]
    for stem in stems:
        assert read_photo(out / f"{stem}.enhanced.jpg").rgb.mean() > 10


def test_batch_refusals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    library = _library(tmp_path / "lib", 1)
    code, _, err = run(["run", str(library), "--steps", "tone", "--out", str(tmp_path / "o"), "--workers", "0"], capsys)
    assert code == 2 and "--workers must be at least 1" in err and "Traceback" not in err
    code, _, err = run(["run", "--steps", "tone", "--out", str(tmp_path / "o"), "--executor", "ray"], capsys)
    assert code == 2 and "name them" in err


def test_a_corrupt_photo_on_a_worker_is_reported_not_journalled(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    library = _library(tmp_path / "lib")
    (library / "3-broken.jpg").write_bytes(sample_path("coffee").read_bytes()[:2000])  # truncated JPEG
    out = tmp_path / "out"
    argv = ["run", str(library), "--steps", "tone", "--out", str(out), "--workers", "2"]
    code, stdout, err = run(argv + ["--keep-going", "--json"], capsys)
    assert code == 4 and "Traceback" not in err, err
    summaries = {Path(s["input"]).name: s for s in json.loads(stdout)}
    assert not summaries["3-broken.jpg"]["ok"] and "truncated" in summaries["3-broken.jpg"]["error"]
    assert len((out / JOURNAL_NAME).read_text().splitlines()) == 3  # the good three only
    code, stdout, err = run(argv, capsys)  # again, without --keep-going: only the broken one runs
    assert code == 4 and "3-broken.jpg" in err and "Traceback" not in err
    report = json.loads((out / "run-summary.json").read_text())
    assert (report["skipped"], report["failed"], report["done"]) == (3, 1, 0)


def test_a_photo_named_twice_runs_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    library = _library(tmp_path / "lib", 2)
    out = tmp_path / "out"
    code, stdout, err = run(["run", str(library), str(library / "0-astronaut.jpg"), "--steps", "tone",
                             "--out", str(out), "--json"], capsys)
    assert code == 0, err
    assert sorted(Path(s["input"]).name for s in json.loads(stdout)) == ["0-astronaut.jpg", "1-coffee.jpg"]
    assert len((out / JOURNAL_NAME).read_text().splitlines()) == 2


def test_executor_ray_without_the_extra_names_it(tmp_path: Path) -> None:
    """A Python where `import ray` fails (sys.modules['ray'] = None blocks it): the missing-extra error."""
    import subprocess
    import sys

    library = _library(tmp_path / "lib", 1)
    code = ("import sys; sys.modules['ray'] = None\n"
            "from edgephoto.cli.main import main\n"
            f"main(['run', {str(library)!r}, '--steps', 'tone', '--out', {str(tmp_path / 'o')!r}, '--executor', 'ray'])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)})
    assert done.returncode == 3 and "pip install 'edgephoto[ray]'" in done.stderr, done.stderr[-1500:]
    assert "Traceback" not in done.stderr and not (tmp_path / "o" / JOURNAL_NAME).exists()
