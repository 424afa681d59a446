"""The shared helpers: atomic writers (file, bytes, directory), sha256, nearest name, require."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgephoto.errors import MissingExtraError, did_you_mean, nearest, require
from edgephoto.files import sha256_file, write_bytes_atomic, write_dir_atomic, write_file_atomic


@pytest.fixture
def umask_027() -> Iterator[None]:
    old = os.umask(0o027)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_file_writers_follow_the_umask_and_leave_no_temp(tmp_path: Path, umask_027: None) -> None:
    write_bytes_atomic(tmp_path / "a" / "x.bin", b"abc", fsync=True)
    write_file_atomic(tmp_path / "y.onnx", lambda p: p.write_text("y"))
    assert (tmp_path / "a" / "x.bin").read_bytes() == b"abc"
    assert _mode(tmp_path / "a" / "x.bin") == 0o640 and _mode(tmp_path / "y.onnx") == 0o640
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "x.bin", "y.onnx"]


def test_a_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "m.onnx"
    target.write_bytes(b"old")

    def half_then_fail(tmp: Path) -> None:
        assert tmp.suffix == ".onnx" and tmp.parent == tmp_path  # libraries may check the suffix
        tmp.write_bytes(b"half")
        raise ValueError("engine refused the model")

    with pytest.raises(ValueError, match="engine refused"):
        write_file_atomic(target, half_then_fail)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


def test_dir_writer_replaces_the_old_dir_and_keeps_it_on_failure(tmp_path: Path, umask_027: None) -> None:
    out = tmp_path / "m.mlpackage"
    out.mkdir()
    (out / "old.txt").write_text("old")

    def fail(staging: Path) -> None:
        assert staging.suffix == ".mlpackage"  # coremltools refuses any other suffix
        (staging / "new.txt").write_text("new")
        raise RuntimeError("converter crashed")

    with pytest.raises(RuntimeError, match="converter crashed"):
        write_dir_atomic(out, fail)
    assert [p.name for p in out.iterdir()] == ["old.txt"]
    write_dir_atomic(out, lambda staging: (staging / "new.txt").write_text("new"))
    assert [p.name for p in out.iterdir()] == ["new.txt"] and _mode(out) == 0o750
    assert [p.name for p in tmp_path.iterdir()] == ["m.mlpackage"]  # no staging, no .old left


def test_sha256_file_streams_the_same_digest(tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 + 7)
    (tmp_path / "w.bin").write_bytes(data)
    assert sha256_file(tmp_path / "w.bin", chunk=1024) == hashlib.sha256(data).hexdigest()


def test_nearest_name() -> None:
    assert nearest("tflte", ["onnx", "tflite", "coreml"]) == "tflite"
    assert did_you_mean("gpuu", ("auto", "cpu", "gpu")) == " Did you mean 'gpu'?"
    assert did_you_mean("zzz", ("auto", "cpu", "gpu")) == ""


def test_require_names_the_extra_or_takes_an_alternative() -> None:
    assert require("json", "runtime").__name__ == "json"
    with pytest.raises(MissingExtraError, match=r"'no_such_engine' is not installed \(needed for the x "
                                                r"backend\): pip install 'edgephoto\[x\]'") as caught:
        require("no_such_engine.interpreter", "x", "the x backend")
    assert (caught.value.module, caught.value.extra) == ("no_such_engine", "x")
    assert require("no_such_engine", "x", alternatives=("no_such_legacy", "json")).__name__ == "json"
