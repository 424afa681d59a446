"""A live PyTorch module converts through the Python API to every target, parity-checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the convert extra brings torch")


class TinySuperRes(torch.nn.Module):  # type: ignore[misc]
    """x2 sub-pixel upscaler with fixed random weights."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(),
            torch.nn.Conv2d(8, 12, 3, padding=1), torch.nn.PixelShuffle(2),
        )

    def forward(self, x):  # type: ignore[no-untyped-def]
        return self.body(x)


@pytest.mark.slow
def test_torch_module_to_every_target(tmp_path: Path) -> None:
    from edgephoto.convert.python_api import convert_torch, torch_spec

    spec = torch_spec("tiny-sr", task="upscale", input_shape=(1, 3, 32, 32),
                      output_shapes=[(1, 3, 64, 64)], scale=2)
    results = convert_torch(TinySuperRes(), spec, tmp_path)
    assert {r.target: r.ok for r in results} == {"onnx": True, "tflite": True, "openvino": True,
                                                 "coreml": True}, [r.error for r in results]
    onnx = next(r for r in results if r.target == "onnx")
    manifest = json.loads((Path(onnx.path) / "manifest.json").read_text())
    assert manifest["source_format"] == "torch" and manifest["scale"] == 2
    assert manifest["parity"]["outputs"]["output"]["metric"] > 50  # PSNR vs the module itself
