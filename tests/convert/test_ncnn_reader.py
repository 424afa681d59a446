"""The ncnn reader on a tiny .param/.bin written here (fp32 and fp16 weight storage), checked
against ncnn itself (the PyPI wheel); malformed files give clear errors. (As ncnn requires, a
blob read by two layers goes through a Split.)"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from edgephoto.errors import InputFileError, UnsupportedOpError

PARAM = """7767517
12 14
Input            in    0 1 data
Split            sp    1 2 data a b
Convolution      c1    1 1 a c1 0=8 1=3 4=1 5=1 6=216 9=2 -23310=1,1.000000e-01
PReLU            p1    1 1 c1 p1 0=8
ConvolutionDepthWise dw 1 1 p1 dw 0=8 1=3 2=2 4=2 5=1 6=72 7=8
Convolution      c2    1 1 dw c2 0=12 1=1 5=0 6=96
PixelShuffle     ps    1 1 c2 ps 0=2
Interp           up    1 1 b up 0=2 1=2.000000e+00 2=2.000000e+00
Split            sp2   1 2 up u1 u2
Eltwise          e     2 1 ps u1 e 0=1 -23301=2,5.000000e-01,1.000000e+00
Concat           cat   2 1 e u2 cat 0=0
BinaryOp         out   1 1 cat output 0=2 1=1 2=5.000000e-01
"""
SIZES = {"c1": (216, 8), "p1": (0, 8), "dw": (72, 8), "c2": (96, 0)}  # (tagged weights, plain fp32)


def _write(tmp: Path, storage: str) -> Path:
    rng = np.random.default_rng(7)
    data = b""
    for layer, (tagged, plain) in SIZES.items():
        if tagged:
            weights = rng.normal(0, 0.3, tagged).astype(np.float32)
            if storage == "fp16":
                raw = weights.astype("<f2").tobytes()
                data += struct.pack("<I", 0x01306B47) + raw + b"\0" * (-len(raw) % 4)
            else:
                data += struct.pack("<I", 0) + weights.astype("<f4").tobytes()
        if plain:
            data += rng.normal(0, 0.2 if layer != "p1" else 0.1, plain).astype("<f4").tobytes()
    param = tmp / f"tiny_{storage}.param"
    param.write_text(PARAM)
    param.with_suffix(".bin").write_bytes(data)
    return param


@pytest.mark.parametrize("storage", ["fp32", "fp16"])
def test_reader_matches_ncnn(tmp_path: Path, storage: str) -> None:
    pytest.importorskip("ncnn")
    ort = pytest.importorskip("onnxruntime")
    from edgephoto.convert.sources.ncnn import build_onnx, ncnn_net, run_ncnn
    from edgephoto.convert.sources.ncnn_format import read_model

    param = _write(tmp_path, storage)
    model = read_model(param)
    assert model.storage_kinds() == [storage]
    assert model.layers[2].get_array(10) == [0.1] and model.layers[9].get_array(1) == [0.5, 1.0]
    session = ort.InferenceSession(build_onnx(model).SerializeToString(), providers=["CPUExecutionProvider"])
    photo = np.random.default_rng(1).random((1, 3, 20, 24), dtype=np.float32)
    ours = session.run(["output"], {"data": photo})[0]
    ref = run_ncnn(ncnn_net(param), {"data": photo}, ["output"])["output"]
    assert ours.shape == ref.shape == (1, 6, 40, 48)
    assert float(np.abs(ours - ref).max()) < 1e-4
    assert float(np.abs(ref).mean()) > 0.05  # the model does compute something


def test_malformed_files(tmp_path: Path) -> None:
    from edgephoto.convert.sources.ncnn_format import read_model

    param = _write(tmp_path, "fp16")
    good = param.with_suffix(".bin").read_bytes()
    param.with_suffix(".bin").write_bytes(good[:-40])
    with pytest.raises(InputFileError, match="truncated: layer Convolution 'c2'"):
        read_model(param)
    param.with_suffix(".bin").write_bytes(good + b"\0" * 8)
    with pytest.raises(InputFileError, match="8 bytes left over after the last weighted layer Convolution 'c2'"):
        read_model(param)
    param.with_suffix(".bin").unlink()
    with pytest.raises(InputFileError, match="beside the .param"):
        read_model(param)
    bad = tmp_path / "bad.param"
    bad.write_text(PARAM.replace("7767517", "7767518"))
    with pytest.raises(InputFileError, match="magic 7767517"):
        read_model(bad)
    bad.write_text(PARAM.replace("12 14", "13 14"))
    with pytest.raises(InputFileError, match="declares 13 layers but holds 12"):
        read_model(bad)
    bad.write_text(PARAM.replace("Eltwise          e  ", "Softmax          e  "))
    with pytest.raises(UnsupportedOpError, match="'Softmax'.*layer 'e'"):
        read_model(bad)


@pytest.mark.parametrize(("mode", "scale"), [("cubic", 0.5), ("cubic", 0.75), ("cubic", 2.0), ("nearest", 4.0)])
def test_resize_as_conv_is_exact(mode: str, scale: float) -> None:
    ort = pytest.importorskip("onnxruntime")
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from edgephoto.convert.onnx_passes.resize_as_conv import rewrite

    scales = numpy_helper.from_array(np.asarray([1, 1, scale, scale], np.float32), "scales")
    attrs = ({"coordinate_transformation_mode": "half_pixel", "cubic_coeff_a": -0.75} if mode == "cubic"
             else {"coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"})
    node = helper.make_node("Resize", ["x", "", "scales"], ["y"], mode=mode, **attrs)
    graph = helper.make_graph([node], "resize", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 24, 36])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [scales])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    x = np.random.default_rng(3).random((1, 3, 24, 36), dtype=np.float32)

    def run(m: onnx.ModelProto) -> np.ndarray:
        return ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]

    ref = run(model)
    assert rewrite(model, {"x": 3}) == 1 and "Resize" not in [n.op_type for n in model.graph.node]
    blocks = [a.i for n in model.graph.node for a in n.attribute if a.name == "blocksize"]
    assert all(b > 1 for b in blocks)  # onnx2tf refuses DepthToSpace with block size 1
    out = run(model)
    assert out.shape == ref.shape == (1, 3, int(24 * scale), int(36 * scale))
    assert float(np.abs(out - ref).max()) < 1e-5


def test_onnx2tf_open_output_dims_take_the_spec_layout() -> None:
    """onnx2tf leaves the H/W of resized outputs open (None): they still match the spec."""
    from edgephoto.convert.sources.onnx import NHWC_TO_NCHW, _layout_fix
    from edgephoto.errors import ConversionError

    assert _layout_fix([1, 3, 128, 128], [1, None, None, 3], "NCHW") == NHWC_TO_NCHW
    assert _layout_fix([1, 3, 128, 128], [1, 128, 128, 3], "NCHW") == NHWC_TO_NCHW
    assert _layout_fix([1, 128, 128, 3], [1, None, None, 3], "NHWC") is None
    with pytest.raises(ConversionError):
        _layout_fix([1, 3, 128, 128], [1, None, None, 4], "NCHW")


def test_crd_pixel_shuffle_as_dcr_is_exact() -> None:
    """A CRD DepthToSpace on a tensor no Conv makes gets a permutation Conv in front of DCR."""
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper

    from edgephoto.convert.onnx_passes.depth_to_space import rewrite

    node = helper.make_node("DepthToSpace", ["x"], ["y"], blocksize=3, mode="CRD")
    graph = helper.make_graph([node], "d2s", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 18, 5, 7])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    x = np.random.default_rng(4).random((1, 18, 5, 7), dtype=np.float32)

    def run() -> np.ndarray:
        return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]

    ref = run()
    assert rewrite(model, {"x": 18}) == 1 and [n.op_type for n in model.graph.node] == ["Conv", "DepthToSpace"]
    assert np.array_equal(run(), ref)
