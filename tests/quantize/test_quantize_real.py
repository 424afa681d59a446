"""Real zoo models quantized to int8 on onnx and tflite, accuracy inside the default limits.

The ONNX upscaler keeps its edge layers float by default (ORT's static QDQ of ESRGAN costs 1.45 dB
with the first conv int8, 0.04 dB with it float); TFLite full-int8 is inside the limit as is
(0.05 dB). The selfie segmenter needs Percentile calibration, its edge layers and a few
accuracy-control layers float on ONNX, and cannot get inside 1 IoU point on TFLite (the xfail).
"""

from __future__ import annotations

import pytest

from edgephoto.convert.api import convert_model
from edgephoto.convert.targets import TARGETS
from shared_dir import PORTRAITS

NEEDS_MASKS = pytest.mark.shared("data/portraits")

CASES = [
    ("esrgan-slim-x4", "onnx", {}),
    ("esrgan-slim-x4", "tflite", {}),
    pytest.param("selfie", "onnx", {"calib_dir": PORTRAITS, "accuracy_control": True}, marks=NEEDS_MASKS),
    pytest.param(
        "selfie", "tflite", {"calib_dir": PORTRAITS, "accuracy_control": True},
        marks=[NEEDS_MASKS, pytest.mark.xfail(strict=True, raises=AssertionError, reason=(
            "selfie full-int8 TFLite loses ~10 IoU points against the portrait masks; the error "
            "is spread over the net (every MUL float: 4.4, every ADD: 6.8, every CONV_2D: 7.0, "
            "logistic/head float: no change; Percentile-clipped ranges written into the calibrated "
            "model: 86.7 vs float 91.3), so accuracy control refuses it at half the tensors float"))],
    ),
]


@pytest.mark.real
@pytest.mark.slow
@pytest.mark.parametrize(("model", "target", "options"), CASES)
def test_real_int8_inside_limits(zoo_weights, tmp_path, model, target, options):
    spec, root = zoo_weights(model)
    results = convert_model(spec, root / spec.files[0].path, [TARGETS.get(target)], tmp_path,
                            precisions=("fp32", "int8"), options=options)
    by_precision = {r.precision: r for r in results}
    assert by_precision["fp32"].ok, by_precision["fp32"].error
    quant = by_precision["int8"]
    assert quant.ok, (quant.error, quant.parity)
    accuracy = quant.parity
    assert accuracy["measured"] and accuracy["drop"] <= accuracy["limit"]["max_drop"]
    ratio = by_precision["fp32"].size_bytes / quant.size_bytes
    if accuracy["kept_float"] == accuracy.get("float_edge_layers", []):  # no accuracy control rounds
        assert ratio >= 3.5  # the aim; esrgan-slim-x4: onnx 3.74 (edge convs: float compute, int8 weights), tflite 3.67
    else:  # accuracy control kept some of it float; still smaller (selfie onnx: 2.1x)
        assert ratio >= 1.5
    if spec.task == "segmentation":
        assert accuracy["guarded_against"] == "ground-truth masks"
        assert accuracy["iou_gt_quant"] > 0.85  # MediaPipe's own pipeline: 0.917 mean IoU
    else:
        assert accuracy["psnr_vs_float"] > 35.0
