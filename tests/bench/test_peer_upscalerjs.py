"""The UpscalerJS peer: a Node.js child speaking the bench protocol, its packages in a folder of
its own (installed here with npm, for real), run on the zoo's own ESRGAN files; its output must
match edgephoto's artifact of the same weights on a real photo crop (a peer that computes
something else would make every ratio meaningless)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from edgephoto import load
from edgephoto.bench.peer_runs import PeerRun, write_inputs
from edgephoto.bench.peers import PEERS, VENVS_ENV, Peer
from edgephoto.metrics import psnr
from edgephoto.runtime.image_io import load_sample
from edgephoto.zoo.spec import ModelSpec


def test_node_peer_folder_without_its_packages_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "peer-js" / "node_modules").mkdir(parents=True)
    monkeypatch.setenv(VENVS_ENV, str(tmp_path))
    peer = Peer("js", "a Node tool", ("esrgan-",), ("model",), ("upscaler",), "npm install --prefix x upscaler",
                venv="peer-js", runtime="node")
    why = peer.missing()
    if shutil.which("node") is None:
        assert why is not None and "no node on PATH" in why
    else:
        assert peer.folder() == tmp_path / "peer-js"
        assert why is not None and "upscaler missing in" in why and "npm install --prefix x upscaler" in why


@pytest.fixture(scope="module")
def upscalerjs_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are not installed (the UpscalerJS peer runs under Node.js)")
    root = tmp_path_factory.mktemp("peers")
    packages = PEERS.get("upscalerjs").install.split("--prefix .cache/peer-upscalerjs ")[1].split()
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(root / "peer-upscalerjs"), *packages],
                   check=True, capture_output=True, timeout=600)
    return root


@pytest.mark.real
@pytest.mark.slow
def test_upscalerjs_peer_runs_the_zoo_weights_like_our_artifact(
        upscalerjs_folder: Path, zoo_weights: Callable[[str], tuple[ModelSpec, Path]],
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VENVS_ENV, str(upscalerjs_folder))
    zoo_weights("esrgan-slim-x4")
    peer = PEERS.get("upscalerjs")
    assert peer.missing() is None
    tile = np.ascontiguousarray(load_sample().rgb[100:164, 120:184])  # a real 64-px crop
    inputs = write_inputs([tile], tmp_path, "tile")
    run = PeerRun(peer, "esrgan-slim-x4", "model", inputs, threads=1, warmup=0)
    worker = run.worker()
    ready = worker.receive("ready")
    assert ready["backend"]["engine"] == "upscalerjs" and ready["backend"]["tfjs_backend"] == "wasm"
    wall, cpu = worker.ask("run 0", "ms")
    assert wall > 0 and cpu > 0
    kept = worker.ask(f"keep 0 {tmp_path / 'out.npy'}", "kept")
    final = worker.ask("stop", "done")
    assert final["peak_rss_mb"] > 0
    theirs = np.load(kept)
    ours = np.asarray(load("esrgan-slim-x4", backend="onnxruntime", threads=1)(tile), np.float32)
    assert theirs.shape == ours.shape == (256, 256, 3)
    assert psnr(np.clip(np.rint(theirs), 0, 255), ours) > 40.0  # same weights, two runtimes
