"""The parity reference computes the source model's float32 semantics whatever the host CPU.

TensorFlow turns its oneDNN fused kernels on by default only on CPUs with AVX512_VNNI/BF16/AMX,
which moved the selfie segmenter's reference by up to 0.087. Here the real selfie TF.js graph
runs in fresh processes under every setting that can differ between machines; all must agree.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgephoto.convert.parity import Tolerance, failed_bounds

REFERENCE = """
import sys, numpy as np
from pathlib import Path
{pre_import}
from edgephoto.convert import graph, parity
from edgephoto.convert.graph import ConvertContext
from edgephoto.convert.sources.tensorflow import onednn_rewrites_on
from edgephoto.zoo import get_model
from edgephoto.zoo.weights import resolve
spec = get_model("selfie-tfjs")
ctx = ConvertContext(spec, Path(sys.argv[1]), {{}}, lambda m: None)
ctx.workdir.mkdir(parents=True, exist_ok=True)
run = graph.source_runner(resolve(spec) / spec.files[0].path, spec.source_format, ctx)
np.save(sys.argv[2], np.stack([run(f)["activation_10"] for f in parity.parity_inputs(spec)]))
print("onednn", onednn_rewrites_on())
"""

SETTINGS = {
    "default": {},
    "user asked for oneDNN": {"TF_ENABLE_ONEDNN_OPTS": "1"},
    "AVX2 kernels only": {"ONEDNN_MAX_CPU_ISA": "AVX2"},
    "AVX-512 without VNNI/BF16": {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE"},
    "bf16 fast math asked for": {"ONEDNN_DEFAULT_FPMATH_MODE": "BF16"},
}


def _reference(tmp_path: Path, label: str, env: dict[str, str], pre_import: str = "") -> tuple[np.ndarray, str]:
    out = tmp_path / f"{len(list(tmp_path.glob('*.npy')))}.npy"
    code = REFERENCE.format(pre_import=pre_import)
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "work"), str(out)],
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **env},
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, f"{label}: {done.stderr[-1500:]}"
    return np.load(out), done.stdout.strip().splitlines()[-1]


@pytest.mark.real
@pytest.mark.slow
def test_reference_agrees_with_itself_across_cpu_settings(zoo_weights, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    zoo_weights("selfie-tfjs")  # fetch once; the children read the same cache
    results = {label: _reference(tmp_path, label, env) for label, env in SETTINGS.items()}
    base, _ = results["default"]
    for label, (values, onednn) in results.items():
        assert onednn == "onednn False", label
        # vector width changes float32 summation order only: ~3e-5 on AVX2 vs AVX-512 here, while
        # the fused kernels moved the output by 0.087
        assert float(np.abs(values - base).max()) <= 1e-4, label


@pytest.mark.real
@pytest.mark.slow
def test_a_host_that_imported_tensorflow_first_is_recorded(zoo_weights, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """TensorFlow imported before edgephoto.convert keeps whatever it chose: the probe says so."""
    zoo_weights("selfie-tfjs")
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    values, onednn = _reference(tmp_path, "imported first", {**env, "TF_ENABLE_ONEDNN_OPTS": "1"},
                                pre_import="import tensorflow")
    assert onednn == "onednn True"
    assert values.shape == (3, 1, 256, 256, 1)


def test_the_message_names_the_bound_that_failed() -> None:
    tolerance = Tolerance("iou", 0.99, True, max_abs=0.02)
    assert failed_bounds(tolerance, {"metric": 0.998647, "max_abs": 0.0867}) == ["max_abs=0.0867 is over 0.02"]
    assert failed_bounds(tolerance, {"metric": 0.95, "max_abs": 0.001}) == ["iou=0.95 is not >= 0.99"]
    assert len(failed_bounds(tolerance, {"metric": 0.95, "max_abs": 0.5})) == 2
    assert failed_bounds(tolerance, {"metric": 0.999, "max_abs": 0.01}) == []
    assert failed_bounds(Tolerance("rel_error", 1e-3, False), {"metric": 2e-3, "max_abs": 9.0}) == [
        "rel_error=0.002 is not <= 0.001"]
