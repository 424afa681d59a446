"""`edgephoto doctor` through the real entry point: JSON is the probe, the table shows it."""

from __future__ import annotations

import json
import os
import sys

import pytest

from cli_runner import run
from edgephoto.runtime.backends import BACKENDS


def test_doctor_json_is_the_probe(capsys: pytest.CaptureFixture[str]) -> None:
    import onnxruntime

    code, out, _ = run(["doctor", "--json"], capsys)
    assert code == 0
    facts = json.loads(out)
    assert set(facts) >= {"edgephoto", "platform", "cpu", "engines"}
    assert facts["platform"]["system"] == sys.platform
    assert facts["cpu"]["cores"] == os.cpu_count()
    assert set(facts["engines"]) == set(BACKENDS.names())
    ort = facts["engines"]["onnxruntime"]
    assert ort["version"] == onnxruntime.__version__
    assert ort["accelerators"] == onnxruntime.get_available_providers()


def test_doctor_table_names_engines_and_devices(capsys: pytest.CaptureFixture[str]) -> None:
    import openvino

    code, out, _ = run(["doctor"], capsys)
    assert code == 0
    for name in BACKENDS.names():
        assert name in out
    assert "cpu: CPUExecutionProvider" in out and "cpu: xnnpack" in out
    for device in openvino.Core().available_devices:
        assert device in out
    if sys.platform != "darwin":
        assert "runs on darwin only" in out
