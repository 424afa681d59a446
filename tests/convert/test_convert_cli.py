"""Bad input to `edgephoto convert`: each a one-line error and a distinct non-zero exit."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from edgephoto.cli.main import main


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    return int(info.value.code or 0), captured.out, captured.err


def test_unknown_model_suggests(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run_cli(["convert", "--model", "esrgan-slm-x4", "--target", "onnx",
                            "--out", str(tmp_path)], capsys)
    assert code == 2
    assert "Did you mean 'esrgan-slim-x4'" in err and len(err.strip().splitlines()) == 1


def test_unknown_target_suggests(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run_cli(["convert", "--model", "fsrcnn-x2", "--target", "openvno",
                            "--out", str(tmp_path)], capsys)
    assert code == 2 and "Did you mean 'openvino'" in err


def test_option_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run_cli(["convert", "--model", "fsrcnn-x2", "--target", "tflite",
                            "--option", "opset=17", "--out", str(tmp_path)], capsys)
    assert code == 2 and "does not accept option 'opset'" in err


def test_precision_refused_per_artifact(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run_cli(["convert", "--model", "fsrcnn-x2", "--target", "onnx",
                            "--quantize", "int4-weights", "--out", str(tmp_path)], capsys)
    assert code == 2 and "cannot do precision 'int4-weights'" in err


def test_copyleft_needs_accept(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run_cli(["convert", "--model", "isnet", "--target", "onnx",
                            "--out", str(tmp_path)], capsys)
    assert code == 12 and "--accept-licence AGPL-3.0" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere; uses a file as the dir")
def test_unwritable_out_dir_permissions(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    code, _, err = run_cli(["convert", "--model", "fsrcnn-x2", "--target", "onnx",
                            "--out", str(locked / "x")], capsys)
    assert code == 10


def test_out_dir_under_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    code, _, err = run_cli(["convert", "--model", "fsrcnn-x2", "--target", "onnx",
                            "--out", str(blocker / "out")], capsys)
    assert code == 10 and "cannot create output directory" in err


def test_corrupt_user_model(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"\x08\x07garbage that is not a protobuf model" * 3)
    code, _, err = run_cli(["convert", str(bad), "--task", "upscale", "--scale", "2",
                            "--target", "onnx", "--out", str(tmp_path / "out")], capsys)
    assert code == 4 and "broken.onnx" in err
    assert not (tmp_path / "out" / "broken").exists()


def test_user_model_needs_task(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    model = tmp_path / "m.onnx"
    model.write_bytes(b"")
    code, _, err = run_cli(["convert", str(model), "--target", "onnx", "--out", str(tmp_path)], capsys)
    assert code == 2 and "--task" in err


def test_model_and_path_are_exclusive(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run_cli(["convert", "--target", "onnx", "--out", str(tmp_path)], capsys)
    assert code == 2 and "either a model file PATH or --model" in err
