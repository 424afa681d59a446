"""Users' own models (files the zoo does not know) convert like zoo entries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import edgephoto.zoo
from edgephoto.cli.main import main

# The FSRCNN frozen graphs the package ships, here as files a user might have: unknown to the zoo.
WEIGHTS = Path(edgephoto.zoo.__file__).with_name("bundled")


def tiny_upscaler_onnx(path: Path) -> Path:
    """A real (random-weight) x2 sub-pixel upscaler: Conv -> Relu -> Conv -> DepthToSpace."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.normal(0, 0.2, (8, 3, 3, 3)).astype(np.float32), "w1")
    w2 = numpy_helper.from_array(rng.normal(0, 0.2, (12, 8, 3, 3)).astype(np.float32), "w2")
    nodes = [
        helper.make_node("Conv", ["image", "w1"], ["a"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["a"], ["b"]),
        helper.make_node("Conv", ["b", "w2"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("DepthToSpace", ["c"], ["upscaled"], blocksize=2, mode="DCR"),
    ]
    graph = helper.make_graph(
        nodes, "tiny_x2",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("upscaled", TensorProto.FLOAT, [1, 3, 64, 64])],
        [w1, w2],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(path))
    return path


def test_user_onnx_to_tflite_and_openvino(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tiny_upscaler_onnx(tmp_path / "my_upscaler.onnx")
    main(["convert", str(model), "--task", "upscale", "--scale", "2", "--target",
          "onnx,tflite,openvino", "--out", str(tmp_path / "out"), "--json", "--no-sanity"])
    rows = json.loads(capsys.readouterr().out)
    assert [r["ok"] for r in rows] == [True, True, True], [r["error"] for r in rows]
    manifest = json.loads((Path(rows[1]["path"]) / "manifest.json").read_text())
    assert manifest["model"] == "my_upscaler" and manifest["scale"] == 2
    assert manifest["inputs"][0]["layout"] == "NCHW"
    assert all(r["parity"]["outputs"]["upscaled"]["metric"] > 50 for r in rows)
    assert model.read_bytes()[:2]  # the input is untouched and still there


@pytest.mark.real
def test_user_frozen_graph(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pb = WEIGHTS / "upscale" / "FSRCNN-small_x2.pb"
    main(["convert", str(pb), "--task", "upscale", "--scale", "2", "--input-shape", "1,64,64,1", "--std", "255",
          "--outputs", "NHWC_output", "--target", "tflite", "--out", str(tmp_path), "--json"])
    (row,) = json.loads(capsys.readouterr().out)
    assert row["ok"], row["error"]
    assert row["parity"]["outputs"]["NHWC_output"]["metric"] > 50


def test_user_yaml_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tiny_upscaler_onnx(tmp_path / "up.onnx")
    config = tmp_path / "up.yaml"
    config.write_text("task: upscale\nscale: 2\nmean: [0]\nstd: [255]\n")
    main(["convert", str(model), "--config", str(config), "--target", "onnx", "--no-sanity",
          "--out", str(tmp_path / "o"), "--json"])
    (row,) = json.loads(capsys.readouterr().out)
    manifest = json.loads((Path(row["path"]) / "manifest.json").read_text())
    assert manifest["inputs"][0]["normalization"]["std"] == [255.0]


def test_bad_yaml_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tiny_upscaler_onnx(tmp_path / "up.onnx")
    config = tmp_path / "up.yaml"
    config.write_text("task: upscale\nscael: 2\n")
    with pytest.raises(SystemExit) as info:
        main(["convert", str(model), "--config", str(config), "--target", "onnx", "--no-sanity",
              "--out", str(tmp_path / "o")])
    assert info.value.code == 2 and "unknown keys ['scael']" in capsys.readouterr().err


def test_missing_extra_is_named(tmp_path: Path) -> None:
    """With TensorFlow absent, a TFLite conversion fails with exit 3 naming the extra."""
    model = tiny_upscaler_onnx(tmp_path / "up.onnx")
    blocker = tmp_path / "block" / "sitecustomize.py"
    blocker.parent.mkdir()
    blocker.write_text(
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('tensorflow', 'onnx2tf', 'tf_keras'):\n"
        "            raise ImportError(f'blocked {name}')\n"
        "sys.meta_path.insert(0, Block())\n"
    )
    env = {**os.environ, "PYTHONPATH": str(blocker.parent)}
    done = subprocess.run(
        [sys.executable, "-m", "edgephoto.cli.main", "convert", str(model), "--task", "upscale",
         "--scale", "2", "--target", "tflite", "--out", str(tmp_path / "o"), "--json"],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 3, done.stderr
    (row,) = json.loads(done.stdout)
    assert row["error_type"] == "MissingExtraError" and "edgephoto[convert]" in row["error"]


@pytest.mark.real
@pytest.mark.parametrize("shape", [None, "1,-1,-1,1"])
def test_unknown_rank_frozen_graph_needs_no_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  shape: str | None) -> None:
    """FSRCNN's placeholder has no rank: its first conv gives the channels, the probe the scale,
    and the artifact, run by the runtime, beats bicubic on the sample photos."""
    pb = WEIGHTS / "upscale" / "FSRCNN_x3.pb"
    extra = ["--input-shape", shape] if shape else []
    main(["convert", str(pb), "--task", "upscale", "--std", "255", *extra, "--target", "onnx",
          "--out", str(tmp_path), "--json"])
    (row,) = json.loads(capsys.readouterr().out)
    assert row["ok"], row["error"]
    manifest = json.loads((Path(row["path"]) / "manifest.json").read_text())
    assert manifest["scale"] == 3 and manifest["inputs"][0]["shape"] == [1, 128, 128, 1]
    assert manifest["outputs"][0]["layout"] == "NCHW" and manifest["outputs"][0]["shape"] == [1, 1, 384, 384]
    assert manifest["sanity"]["model"] > manifest["sanity"]["bicubic"]


def test_malformed_tfjs_json_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "model.json"
    bad.write_text(json.dumps({"format": "layers-model", "modelTopology": {}}))
    from cli_runner import run

    code, _, err = run(["convert", str(bad), "--task", "upscale", "--target", "onnx",
                        "--out", str(tmp_path / "o")], capsys)
    assert code == 4 and err.count("\n") == 1 and "model_config" in err, err


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_keras_file_declares_its_own_input_and_output(tmp_path: Path, suffix: str) -> None:
    """A Keras file carries its model config: no --input-shape/--outputs needed (read without
    loading the model); an .h5 of weights only is a one-line input error."""
    tf_keras = pytest.importorskip("tf_keras")
    from edgephoto.convert.user_model import UserModelOptions, spec_from_file
    from edgephoto.errors import InputFileError

    x = tf_keras.Input((None, None, 3), name="low_res")
    y = tf_keras.layers.UpSampling2D(2)(tf_keras.layers.Conv2D(4, 3, padding="same")(x))
    model = tf_keras.Model(x, tf_keras.layers.Conv2D(3, 3, padding="same", name="high_res")(y))
    path = tmp_path / f"mine{suffix}"
    model.save(str(path))
    spec = spec_from_file(path, UserModelOptions(task="upscale", scale=2), probe=False)
    assert [(t.name, t.shape) for t in spec.inputs] == [("low_res", (1, 128, 128, 3))]
    assert [(t.name, t.shape) for t in spec.outputs] == [("high_res", (1, 256, 256, 3))]
    if suffix == ".h5":
        weights = tmp_path / "weights_only.h5"
        model.save_weights(str(weights))
        with pytest.raises(InputFileError, match="model_config"):
            spec_from_file(weights, UserModelOptions(task="upscale"), probe=False)
