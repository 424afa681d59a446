"""The runtime stays light: importing it, importing any backend and running ONNX, TFLite and
OpenVINO artifacts never imports TensorFlow, PyTorch, coremltools (or onnx), checked in fresh
interpreters. The second test blocks those packages outright, as if only the `runtime` extra
were installed."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
from tiny_backend_models import sample, tiny_artifacts, truth, weights  # noqa: F401

HEAVY = ("tensorflow", "torch", "coremltools", "onnx", "tf_keras", "keras", "jax")

BLOCKER = textwrap.dedent(
    """
    import importlib.abc, sys
    BLOCKED = {blocked!r}
    attempts = []

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                attempts.append(name)
                raise ModuleNotFoundError(f"blocked: {{name}}", name=name)
            return None

    sys.meta_path.insert(0, Block())
    """
)


def _python(code: str, cwd: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=cwd, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_runtime_and_backend_imports_stay_light(tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        import json, sys
        import edgephoto.runtime, edgephoto.runtime.artifact, edgephoto.runtime.devices
        from edgephoto.runtime.backends import BACKENDS
        names = BACKENDS.names()  # imports every backend module
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})
        print(json.dumps({{"backends": names, "heavy": heavy}}))
        """
    )
    result = _python(code, tmp_path)
    assert "reference" in result["backends"] and "coreml" in result["backends"]
    assert result["heavy"] == []


def test_artifacts_run_with_heavy_packages_blocked(tiny_artifacts, tmp_path: Path) -> None:  # noqa: F811
    roots = {suffix: str(tiny_artifacts(suffix)[0]) for suffix in (".onnx", ".tflite", ".xml")}
    x = sample()
    np.save(tmp_path / "x.npy", x)
    code = BLOCKER.format(blocked=set(HEAVY)) + textwrap.dedent(
        f"""
        import json
        import numpy as np
        from edgephoto.errors import MissingExtraError
        from edgephoto.runtime.artifact import load_artifact
        from edgephoto.runtime.devices import probe

        x = np.load("x.npy")
        results = {{}}
        for suffix, root in {roots!r}.items():
            backend, manifest = load_artifact(root, threads=1)
            with backend:
                feed = x.transpose(0, 2, 3, 1) if manifest["inputs"][0]["layout"] == "NHWC" else x
                (out,) = backend.run({{backend.inputs()[0].name: feed}}).values()
                np.save(suffix[1:] + ".npy", out)
                results[suffix] = backend.describe()["backend"]
        try:
            load_artifact({roots[".onnx"]!r}, backend="reference")
            missing = None
        except MissingExtraError as exc:
            missing = [exc.module, exc.extra]
        engines = probe()["engines"]
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
        print(json.dumps({{"backends": results, "missing": missing, "heavy": heavy,
                          "attempts": sorted(set(attempts)),
                          "usable": {{k: v["usable"] for k, v in engines.items()}}}}))
        """
    )
    result = _python(code, tmp_path)
    assert result["backends"] == {".onnx": "onnxruntime", ".tflite": "litert", ".xml": "openvino"}
    assert result["heavy"] == []
    assert result["missing"] == ["onnx", "convert"]
    assert result["usable"]["onnxruntime"] and result["usable"]["litert"] and result["usable"]["openvino"]
    assert not result["usable"]["reference"]
    expected = truth(x, weights())
    for name, layout in (("onnx", "NCHW"), ("tflite", "NHWC"), ("xml", "NCHW")):
        out = np.load(tmp_path / f"{name}.npy")
        out = out.transpose(0, 3, 1, 2) if layout == "NHWC" else out
        np.testing.assert_allclose(out, expected, atol=1e-5, rtol=0)
