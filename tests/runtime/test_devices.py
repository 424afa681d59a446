"""Devices and delegates are probed for real, and a missing one is never used silently:
it warns (EdgePhotoWarning) and records the device actually used, or raises DeviceError."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import pytest
from tiny_backend_models import tiny_artifacts  # noqa: F401 - session fixture

from edgephoto.errors import DeviceError, EdgePhotoWarning, InvalidOptionError
from edgephoto.runtime import devices
from edgephoto.runtime.backends import BACKENDS, load_backend

ENGINES = {"onnxruntime": ".onnx", "litert": ".tflite", "openvino": ".xml"}


@pytest.fixture(scope="module")
def probed() -> dict:
    return devices.probe()


def test_probe_reports_every_backend_with_real_versions(probed: dict) -> None:
    import onnxruntime
    import openvino

    assert set(probed["engines"]) == set(BACKENDS.names())
    ort = probed["engines"]["onnxruntime"]
    assert ort["usable"] and ort["version"] == onnxruntime.__version__
    assert ort["accelerators"] == onnxruntime.get_available_providers()
    assert ort["devices"]["cpu"] == "CPUExecutionProvider"
    ov = probed["engines"]["openvino"]
    assert ov["accelerators"] == openvino.Core().available_devices and ov["devices"]["cpu"] == "CPU"
    lite = probed["engines"]["litert"]
    assert lite["devices"]["cpu"] == "xnnpack" and set(lite["modelled"]) >= {"gpu", "edgetpu", "qnn", "nnapi"}
    if sys.platform != "darwin":
        assert not probed["engines"]["coreml"]["usable"]
        assert "darwin" in probed["engines"]["coreml"]["error"]


def test_cpu_facts_match_this_machine(probed: dict) -> None:
    cpu = probed["cpu"]
    assert cpu["cores"] == os.cpu_count() and 1 <= cpu["usable_cores"] <= cpu["cores"]
    if Path("/proc/cpuinfo").exists():
        text = Path("/proc/cpuinfo").read_text()
        assert cpu["features"]["avx2"] == (" avx2" in text)
        assert cpu["features"]["avx512"] == (" avx512" in text)


def test_cpu_flags_parsed_from_x86_and_arm_cpuinfo(tmp_path: Path) -> None:
    x86 = tmp_path / "x86"
    x86.write_text(
        "processor\t: 0\nmodel name\t: Some Xeon\n"
        "flags\t\t: fpu sse4_2 avx avx2 fma avx512f avx512bw avx512_vnni avx512_bf16 amx_int8\n\n"
    )
    facts = devices.cpu_facts(x86)
    assert facts["model"] == "Some Xeon"
    assert facts["features"] == {"avx2": True, "avx512": True, "vnni": True, "bf16": True,
                                 "fp16": False, "neon": False}
    arm = tmp_path / "arm"
    arm.write_text(
        "processor\t: 0\nBogoMIPS\t: 108.00\n"
        "Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimddp\n"
        "CPU implementer\t: 0x41\n"
    )
    facts = devices.cpu_facts(arm)
    assert facts["features"]["neon"] and facts["features"]["vnni"] and facts["features"]["fp16"]
    assert "asimddp" in facts["flags"] and not facts["features"]["avx2"]
    assert devices.cpu_facts(tmp_path / "absent")["flags"] == []


@pytest.mark.parametrize("device", ["gpu", "npu"])
@pytest.mark.parametrize("name", list(ENGINES))
def test_missing_device_falls_back_loudly_or_raises(name: str, device: str, probed: dict,
                                                    tiny_artifacts) -> None:  # noqa: F811
    if device in probed["engines"][name]["devices"]:
        pytest.skip(f"{name} has a real {device} here")
    root, _ = tiny_artifacts(ENGINES[name])
    model = next(p for p in root.iterdir() if p.suffix == ENGINES[name])
    with pytest.warns(EdgePhotoWarning, match=f"{name}: device '{device}' is not available"):
        backend = load_backend(name, model, device=device, threads=1)
    with backend:
        described = backend.describe()
    assert described["requested_device"] == device and described["device"] == "cpu"
    assert described["accelerator"] == probed["engines"][name]["devices"]["cpu"]
    with pytest.raises(DeviceError, match=f"'{device}' is not available.*available: cpu"):
        load_backend(name, model, device=device, fallback=False)


@pytest.mark.parametrize("name", list(ENGINES))
def test_auto_and_cpu_never_warn(name: str, tiny_artifacts) -> None:  # noqa: F811
    root, _ = tiny_artifacts(ENGINES[name])
    model = next(p for p in root.iterdir() if p.suffix == ENGINES[name])
    for device in ("auto", "cpu"):
        with warnings.catch_warnings():
            warnings.simplefilter("error", EdgePhotoWarning)
            with load_backend(name, model, device=device, threads=1) as backend:
                assert backend.describe()["requested_device"] == device


def test_litert_delegates_are_explicit(probed: dict, tiny_artifacts) -> None:  # noqa: F811
    root, _ = tiny_artifacts(".tflite")
    if "edgetpu" in probed["engines"]["litert"]["accelerators"]:
        pytest.skip("an EdgeTPU library is installed here")
    with pytest.warns(EdgePhotoWarning, match="delegate 'edgetpu' is not available"):
        backend = load_backend("litert", root / "model.tflite", delegate="coral")
    assert backend.describe()["delegate"] == "xnnpack" and backend.device == "cpu"
    with pytest.raises(DeviceError, match="delegate 'qnn'.*xnnpack"):
        load_backend("litert", root / "model.tflite", delegate="hexagon", fallback=False)
    with load_backend("litert", root / "model.tflite", delegate="none") as plain:
        assert plain.describe()["delegate"] == "none"
    with pytest.raises(InvalidOptionError, match="unknown delegate 'tpu'"):
        load_backend("litert", root / "model.tflite", delegate="tpu")


def test_onnxruntime_provider_option(probed: dict, tiny_artifacts) -> None:  # noqa: F811
    root, _ = tiny_artifacts(".onnx")
    if "CUDAExecutionProvider" in probed["engines"]["onnxruntime"]["accelerators"]:
        pytest.skip("CUDA is present here")
    with pytest.warns(EdgePhotoWarning, match="provider 'CUDAExecutionProvider' is not available"):
        backend = load_backend("onnxruntime", root / "model.onnx", provider="cuda")
    assert backend.describe()["providers"] == ["CPUExecutionProvider"]
    with pytest.raises(DeviceError, match="CPUExecutionProvider"):
        load_backend("onnxruntime", root / "model.onnx", provider="qnn", fallback=False)


def test_unknown_device_and_coreml_off_macos(tiny_artifacts) -> None:  # noqa: F811
    root, _ = tiny_artifacts(".onnx")
    with pytest.raises(InvalidOptionError, match="unknown device 'gpuu'. Did you mean 'gpu'"):
        load_backend("onnxruntime", root / "model.onnx", device="gpuu")
    with pytest.raises(DeviceError, match="gpu"):
        load_backend("reference", root / "model.onnx", device="gpu", fallback=False)
    if sys.platform != "darwin":
        with pytest.raises(DeviceError, match="Core ML runs on macOS only"):
            load_backend("coreml", root / "model.onnx")
