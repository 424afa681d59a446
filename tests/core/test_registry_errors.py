from __future__ import annotations

import pytest

from edgephoto.convert.targets import TARGETS, check_options, check_precision, parse_targets
from edgephoto.errors import InvalidOptionError, UnknownNameError
from edgephoto.registry import Registry
from edgephoto.zoo import MODELS, all_models


def test_registering_twice_raises() -> None:
    registry: Registry[int] = Registry("thing")
    registry.add("a", 1)
    with pytest.raises(ValueError, match="registered twice"):
        registry.add("a", 2)


def test_unknown_name_suggests_nearest() -> None:
    with pytest.raises(UnknownNameError) as info:
        MODELS.get("esrgan-slim-x5")
    assert info.value.suggestion is not None and info.value.suggestion.startswith("esrgan-slim")
    assert "esrgan-thick-x4" in str(info.value)


def test_unknown_target_suggests() -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'tflite'"):
        parse_targets("onnx,tflit")


def test_target_refuses_option_with_nearest() -> None:
    with pytest.raises(InvalidOptionError, match="Did you mean 'opset'"):
        check_options(TARGETS.get("onnx"), ["opsett"])
    with pytest.raises(InvalidOptionError, match="does not accept option 'opset'"):
        check_options(TARGETS.get("tflite"), ["opset"])


def test_target_refuses_precision() -> None:
    with pytest.raises(InvalidOptionError, match="cannot do precision 'int4-weights'"):
        check_precision(TARGETS.get("onnx"), "int4-weights")


def test_all_targets_parse() -> None:
    assert {t.name for t in parse_targets("all")} == {"onnx", "tflite", "openvino", "coreml"}


@pytest.mark.parametrize("spec", all_models(include_restricted=True), ids=lambda s: s.name)
def test_zoo_entries_are_complete(spec) -> None:  # type: ignore[no-untyped-def]
    assert spec.task and spec.licence and spec.upstream and spec.description
    assert spec.files and all(len(f.sha256) == 64 and f.size > 0 and f.sources for f in spec.files)
    assert spec.inputs and spec.outputs
    assert spec.tile.overlap >= 0 and spec.tile.tile > 0
    if spec.task == "upscale":
        assert spec.scale in (2, 3, 4)
        axis = 2 if spec.inputs[0].layout == "NCHW" else 1  # H
        h_in, h_out = spec.inputs[0].shape[axis], spec.outputs[0].shape[axis]
        assert h_out == (None if h_in is None else h_in * spec.scale)  # open H/W stays open


def test_copyleft_models_are_opt_in() -> None:
    permissive = {m.name for m in all_models()}
    assert "isnet" not in permissive and "rvm" not in permissive
    assert {"fastdepth", "selfie", "selfie-landscape", "meet", "esrgan-thick-x4", "fsrcnn-x2",
            "blazeface", "facemesh"} <= permissive
