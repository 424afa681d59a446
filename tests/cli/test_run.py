"""`edgephoto run` end to end through main(): real photos, JSON summaries, refusals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cli_runner import run
from edgephoto.runtime.image_io import read_photo, sample_path
from shared_dir import EXIF_DIR, PORTRAITS


def test_photo_steps_need_no_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["run", "--steps", "exif,denoise,wb,tone", "--no-build", "--out", str(tmp_path), "--json"],
                         capsys)
    assert code == 0, err
    (summary,) = json.loads(out)
    assert summary["ok"] and Path(summary["input"]).name == "astronaut.jpg"
    assert summary["steps"] == ["exif", "denoise", "wb", "tone"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["astronaut.enhanced.jpg", "astronaut.json"]


@pytest.mark.real
def test_default_runs_every_step_on_the_built_in_sample(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], zoo_weights: object
) -> None:
    """The README's first command: no photo, no --steps, models converted on first use."""
    from edgephoto.cli.run import DEFAULT_STEPS

    code, out, err = run(["run", "--out", str(tmp_path / "out"), "--json"], capsys)
    assert code == 0, err
    (summary,) = json.loads(out)
    assert summary["ok"] and Path(summary["input"]).name == "astronaut.jpg"
    assert set(DEFAULT_STEPS) <= set(summary["steps"])
    written = {p.name for p in (tmp_path / "out").iterdir()}
    assert written == {f"astronaut.{s}" for s in ("json", "enhanced.jpg", "depth.png", "mask.png", "matte.png",
                                                  "bokeh.jpg", "cutout.png", "x2.png")}
    params, models = summary["parameters"], summary["models"]
    assert {m["model"] for m in models.values()} >= {"fastdepth", "selfie", "blazeface", "fsrcnn-x2"}
    assert 0.3 < params["segment"]["person_fraction"] < 0.8  # the astronaut fills about half the frame
    assert params["faces"]["count"] == 1 and len(params["faces"]["faces"][0]["landmarks"]) == 468
    x0, y0, x1, y1 = params["faces"]["faces"][0]["box"]
    assert 150 < (x0 + x1) / 2 < 280 and 40 < (y0 + y1) / 2 < 170  # her face, top centre-left
    assert 0.2 < params["depth"]["range"][0] < params["depth"]["range"][1] < 10  # metres
    assert read_photo(tmp_path / "out" / "astronaut.x2.png").size == (1024, 1024)
    cutout = read_photo(tmp_path / "out" / "astronaut.cutout.png")
    assert cutout.size == (512, 512) and cutout.alpha is not None
    assert cutout.alpha.min() < 10 and cutout.alpha.max() > 245  # background cut, subject kept
    assert set(json.loads((tmp_path / "out" / "astronaut.json").read_text())["timings_s"]) >= set(DEFAULT_STEPS)


@pytest.mark.shared("data/exif", "data/portraits")
def test_real_photos_with_orientation_and_exif(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photos = [str(EXIF_DIR / "Portrait_6.jpg"), str(PORTRAITS / "78.jpg")]
    code, out, err = run(["run", *photos, "--steps", "tone,wb,exif", "--out", str(tmp_path / "o"), "--json"], capsys)
    assert code == 0, err
    first, second = json.loads(out)
    assert first["steps"] == ["exif", "wb", "tone"]  # registry order, whatever the order asked
    assert first["parameters"]["exif"]["orientation_applied"] == 6
    assert read_photo(first["outputs"]["enhanced"]).size == (1200, 1800)  # portrait after rotation
    assert second["exif"]["model"] == "iPhone 6s" and second["parameters"]["exif"]["iso"] == 160
    on_disk = json.loads((tmp_path / "o" / "78.json").read_text())
    assert on_disk["parameters"]["wb"] == second["parameters"]["wb"]
    assert set(on_disk["timings_s"]) == {"read", "exif", "wb", "tone"}


def test_table_output_and_progress(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["run", str(sample_path("coffee")), "--steps", "wb", "--out", str(tmp_path)], capsys)
    assert code == 0 and "coffee.jpg" in out and "coffee.enhanced.jpg" in out
    assert "[1/1] coffee.jpg: wb" in err


def test_unknown_step_suggests(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["run", "--steps", "denoize", "--out", str(tmp_path)], capsys)
    assert code == 2 and "Did you mean 'denoise'" in err
    assert not list(tmp_path.iterdir())


def test_out_onto_input_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photo = tmp_path / "p.jpg"
    shutil.copy(sample_path("chelsea"), photo)
    before = photo.read_bytes()
    code, _, err = run(["run", str(photo), "--out", str(photo)], capsys)
    assert code == 10 and "input" in err
    assert photo.read_bytes() == before


@pytest.mark.real  # runs the default steps: builds zoo artifacts from real weights
def test_corrupt_input_exit_code_and_keep_going(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(sample_path("coffee").read_bytes()[:3000])
    code, _, err = run(["run", str(bad), "--out", str(tmp_path / "o")], capsys)
    assert code == 4 and "bad.jpg" in err and "truncated" in err
    code, out, _ = run(["run", str(bad), str(sample_path("rocket")), "--keep-going", "--json",
                        "--out", str(tmp_path / "o2")], capsys)
    assert code == 4
    summaries = json.loads(out)
    assert [s["ok"] for s in summaries] == [False, True]
    assert json.loads((tmp_path / "o2" / "bad.json").read_text())["error_type"] == "InputFileError"


def test_missing_artifact_without_build(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEPHOTO_CACHE", str(tmp_path / "cache"))
    code, _, err = run(["run", "--steps", "segment", "--no-build", "--artifacts", str(tmp_path),
                        "--out", str(tmp_path / "o")], capsys)
    assert code == 4 and "no 'segmentation' artifact" in err


def test_bad_background_and_backend(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["run", "--steps", "wb", "--background", "1,2", "--out", str(tmp_path)], capsys)
    assert code == 2 and "R,G,B" in err
    code, _, err = run(["run", "--steps", "wb", "--backend", "onnxruntim", "--out", str(tmp_path)], capsys)
    assert code == 2 and "onnxruntime" in err


def test_runtime_does_not_import_convert() -> None:
    """Running the classic steps must not pull in the converter (or TensorFlow/PyTorch)."""
    import subprocess
    import sys

    code = (
        "import sys, tempfile\n"
        "from edgephoto.runtime.pipeline import run_on_sample\n"
        "run_on_sample(['tone', 'wb'], tempfile.mkdtemp())\n"
        "bad = [m for m in sys.modules if m.startswith(('edgephoto.convert', 'tensorflow', 'torch'))]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
