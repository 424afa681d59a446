"""`edgephoto run DIR` over a photo folder, and outputs that honour the umask."""

from __future__ import annotations

import json
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli_runner import run
from edgephoto.runtime.image_io import sample_path
from shared_dir import EXIF_DIR


@pytest.fixture
def umask_027() -> Iterator[None]:
    old = os.umask(0o027)
    yield
    os.umask(old)


def _library(root: Path) -> Path:
    """A small photo folder as people have them: nested albums, a sidecar, a hidden file."""
    (root / "2024" / "summer").mkdir(parents=True)
    shutil.copy(sample_path("astronaut"), root / "astronaut.jpg")
    shutil.copy(sample_path("coffee"), root / "2024" / "coffee.jpg")
    shutil.copy(EXIF_DIR / "Portrait_6.jpg", root / "2024" / "summer" / "portrait.JPG")
    (root / "2024" / "notes.txt").write_text("not a photo")
    (root / ".thumbs").mkdir()
    shutil.copy(sample_path("chelsea"), root / ".thumbs" / "chelsea.jpg")
    return root


@pytest.mark.shared("data/exif")
def test_a_folder_runs_every_photo_in_it_recursively(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    library = _library(tmp_path / "library")
    before = {p: p.read_bytes() for p in library.rglob("*") if p.is_file()}
    code, out, err = run(["run", str(library), "--steps", "exif,tone", "--out", str(tmp_path / "o"), "--json"],
                         capsys)
    assert code == 0, err
    inputs = sorted(Path(s["input"]).name for s in json.loads(out))
    assert inputs == ["astronaut.jpg", "coffee.jpg", "portrait.JPG"]  # hidden folder and .txt left out
    assert "skipped 1 file(s) that are not photos" in err and "notes.txt" in err
    assert {p: p.read_bytes() for p in library.rglob("*") if p.is_file()} == before


def test_a_folder_without_photos_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.md").write_text("#")
    code, out, err = run(["run", str(tmp_path / "empty"), "--steps", "tone", "--out", str(tmp_path / "o")], capsys)
    assert code == 4 and "holds no photos" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_run_outputs_get_the_umask_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str], umask_027: None) -> None:
    code, _, err = run(["run", "--steps", "exif,tone", "--out", str(tmp_path / "o")], capsys)
    assert code == 0, err
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "o").iterdir()}
    assert modes == {"astronaut.enhanced.jpg": 0o640, "astronaut.json": 0o640}


def test_atomic_writers_all_follow_the_umask(tmp_path: Path, umask_027: None) -> None:
    from edgephoto.files import umask_dir_mode
    from edgephoto.manifest import write_json_atomic
    from edgephoto.runtime.image_io import write_bytes_atomic

    write_bytes_atomic(tmp_path / "a.bin", b"x")
    write_json_atomic(tmp_path / "b.json", {"a": 1})
    assert stat.S_IMODE((tmp_path / "a.bin").stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "b.json").stat().st_mode) == 0o640
    assert umask_dir_mode() == 0o750
