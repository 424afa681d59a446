"""`edgephoto run --steps retouch` end to end (issue 13): real portraits, real face models."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cli_runner import run
from edgephoto.runtime.image_io import encode_image, read_photo, sample_path
from shared_dir import PORTRAITS


@pytest.mark.real
@pytest.mark.shared("data/portraits")
def test_run_retouch_on_a_portrait_writes_the_outputs_and_names_the_parameters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], zoo_weights: object
) -> None:
    photo = PORTRAITS / "71.jpg"
    code, out, err = run(["run", str(photo), "--steps", "segment,retouch", "--retouch", "strength=0.8,eyes=0.5",
                          "--out", str(tmp_path), "--json"], capsys)
    assert code == 0, err
    (summary,) = json.loads(out)
    assert summary["ok"] and summary["steps"] == ["segment", "faces", "retouch"]
    params = summary["parameters"]["retouch"]
    assert params["strength"] == 0.8 and params["eyes"] == 0.5 and params["skin"] == 0.8  # given, default
    assert {"texture", "teeth", "min_presence"} <= set(params) and params["person_mask"] is True
    assert params["faces_retouched"] == 1 and summary["models"]["face_landmarks"]["model"] == "facemesh"
    (face,) = params["faces"]
    assert 0.3 < face["skin_fine_energy_kept"] < 0.9 and face["teeth_px"] > 200
    assert {Path(p).name for p in summary["outputs"].values()} == {"71.mask.png", "71.retouched.jpg",
                                                                   "71.retouch_before_after.jpg"}
    source, retouched = read_photo(photo).rgb, read_photo(tmp_path / "71.retouched.jpg").rgb
    assert retouched.shape == source.shape
    # The input through the same JPEG encoder: 16-px blocks (MCUs) the edits do not reach decode alike.
    reencoded = np.asarray(Image.open(io.BytesIO(encode_image(source, ".jpg", quality=95))).convert("RGB"))
    x0, y0, x1, y1 = face["box"]
    change = np.abs(retouched.astype(np.int16) - reencoded).max(axis=2)
    near = np.zeros(change.shape, bool)
    near[max(0, y0 // 16 * 16 - 16) : y1 + 32, max(0, x0 // 16 * 16 - 16) : x1 + 32] = True
    assert change[~near].max() == 0 and change[near].mean() > 0.5
    side_by_side = read_photo(tmp_path / "71.retouch_before_after.jpg")
    assert side_by_side.size[1] == 640 and side_by_side.size[0] > 2 * 640 * (x1 - x0) / (y1 - y0) * 0.9
    on_disk = json.loads((tmp_path / "71.json").read_text())
    assert on_disk["parameters"]["retouch"] == params


@pytest.mark.real
def test_no_face_passes_the_photo_through(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          zoo_weights: object) -> None:
    photo = sample_path("coffee")
    code, out, err = run(["run", str(photo), "--steps", "retouch", "--out", str(tmp_path), "--json"], capsys)
    assert code == 0, err
    (summary,) = json.loads(out)
    params = summary["parameters"]["retouch"]
    assert summary["ok"] and params["faces_retouched"] == 0 and params["faces"] == []
    assert "unchanged" in params["note"]
    source, written = read_photo(photo).rgb, read_photo(summary["outputs"]["retouch"]).rgb
    assert np.abs(written.astype(np.int16) - source).mean() < 1.5  # the same photo, re-encoded at q95


def test_an_unknown_retouch_option_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["run", "--steps", "retouch", "--retouch", "smooth=1", "--out", str(tmp_path)], capsys)
    assert code == 2 and "strength" in err and "smooth=1" in err
    assert not tmp_path.exists() or not list(tmp_path.iterdir())
