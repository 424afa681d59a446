"""Real-ESRGAN from ncnn files: the zoo's animevideov3 x2 converts to ONNX with parity against
ncnn itself, and upscales a Set5 photo as ncnn does; a user's broken .param/.bin exits cleanly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cli_runner import run
from shared_dir import SET5


@pytest.mark.real
@pytest.mark.shared("data/sr/set5")
def test_animevideov3_x2_onnx_matches_ncnn_on_set5(zoo_artifacts, zoo_weights) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("ncnn")
    import edgephoto
    from edgephoto.convert.sources.ncnn import ncnn_net, run_ncnn
    from edgephoto.manifest import read_manifest
    from edgephoto.metrics import psnr_y, sr_pair

    result = zoo_artifacts("realesr-animevideov3-x2", ("onnx",))["onnx"]
    assert result.ok, result.error
    manifest = read_manifest(Path(result.path))
    assert manifest["licence"] == "BSD-3-Clause" and manifest["source_format"] == "ncnn"
    assert all(o["metric"] > 100 for o in manifest["parity"]["outputs"].values())  # fp32 vs ncnn fp32
    # Set5 'bird', the data README's protocol: crop to a multiple of 2, PIL bicubic down, x2 up
    hr, lr = sr_pair(np.asarray(Image.open(SET5 / "bird.png").convert("RGB")), 2)
    with edgephoto.load(Path(result.path), backend="onnxruntime", threads=1) as model:
        ours = np.asarray(model(lr))
    spec, root = zoo_weights("realesr-animevideov3-x2")
    feed = (lr.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]
    ref = run_ncnn(ncnn_net(root / spec.files[0].path), {"data": feed}, ["output"])["output"][0]
    ref_rgb = np.clip(np.rint(ref.transpose(1, 2, 0) * 255.0), 0, 255).astype(np.uint8)
    assert ours.shape == hr.shape == ref_rgb.shape
    ours_db, ncnn_db = psnr_y(hr, ours, 2), psnr_y(hr, ref_rgb, 2)
    assert abs(ours_db - ncnn_db) < 0.05, (ours_db, ncnn_db)
    assert int(np.abs(ours.astype(int) - ref_rgb.astype(int)).max()) <= 1
    assert ours_db > 25.0  # a real upscale of the photo, not a blank or shifted image


def test_user_ncnn_model_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from test_ncnn_reader import _write

    param = _write(tmp_path, "fp16")
    data = param.with_suffix(".bin").read_bytes()
    param.with_suffix(".bin").write_bytes(data[: len(data) // 2])
    args = ["convert", str(param), "--task", "upscale", "--scale", "2", "--target", "onnx",
            "--out", str(tmp_path / "out")]
    code, out, err = run(args, capsys)
    assert code == 4 and "truncated: layer" in err and "Traceback" not in err + out
    assert param.with_suffix(".bin").read_bytes() == data[: len(data) // 2]  # input untouched
    param.write_text("7767517\n1 1\nWhatever x 0 1 data\n")
    code, out, err = run(args, capsys)
    assert code == 5 and "Whatever" in err and "Traceback" not in err + out
    param.write_text("not a param\n")
    code, out, err = run(args, capsys)
    assert code == 4 and "magic 7767517" in err and json.dumps(err).count("\\n") <= 2


@pytest.mark.real
@pytest.mark.shared("data/sr/set5")
def test_animevideov3_x2_tflite_is_fixed_size_and_tiles_a_photo(zoo_artifacts) -> None:  # type: ignore[no-untyped-def]
    """The TFLite file is converted at the 128² tile size: its manifest says so (not the spec's
    open H/W), so the runtime tiles a photo of any size instead of feeding it whole."""
    import edgephoto
    from edgephoto.manifest import read_manifest
    from edgephoto.metrics import psnr_y, sr_pair

    results = zoo_artifacts("realesr-animevideov3-x2", ("onnx", "tflite"))
    assert all(r.ok for r in results.values()), {t: r.error for t, r in results.items()}
    assert read_manifest(Path(results["tflite"].path))["inputs"][0]["shape"] == [1, 3, 128, 128]
    assert read_manifest(Path(results["onnx"].path))["inputs"][0]["shape"] == [1, 3, None, None]
    quantized = zoo_artifacts("realesr-animevideov3-x2", ("tflite",), precision="int8-dynamic")["tflite"]
    assert quantized.ok, quantized.error  # built from the spec, not from the fp32 manifest: same fixed size
    assert read_manifest(Path(quantized.path))["inputs"][0]["shape"] == [1, 3, 128, 128]
    hr, lr = sr_pair(np.asarray(Image.open(SET5 / "bird.png").convert("RGB")), 2)  # 144x144 LR: 4 tiles
    scores = {}
    for target, backend in (("tflite", "litert"), ("onnx", "onnxruntime")):
        with edgephoto.load(Path(results[target].path), backend=backend, threads=1) as model:
            out = np.asarray(model(lr))
        assert out.shape == hr.shape
        scores[target] = psnr_y(hr, out, 2)
    assert abs(scores["tflite"] - scores["onnx"]) < 0.3, scores  # tiled vs whole photo, same model
