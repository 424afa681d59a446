"""The tools people would use instead of edgephoto, measured beside it in the same run.

Each peer is one row of data (which zoo models it runs, which kinds of run it can do, what it
needs installed and where, how to install it) registered by name; `peer_child.py` holds the
few lines that drive each tool. A peer runs in its own child process speaking the bench
protocol (bench/worker.py), in this interpreter or in a venv of its own (MediaPipe 0.10.21 and
TensorFlow 2.21 cannot share one), or under Node.js with npm packages in a folder of its own
(`peer_child_node.cjs`: UpscalerJS). A peer that is not installed is reported with the way to
install it, never measured by anything else.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgephoto.registry import Registry

MODES = ("model", "call")  # the network alone at the artifact's input / photo in, result out
VENVS_ENV = "EDGEPHOTO_PEER_VENVS"  # a folder holding peer venvs (peer-<name>/bin/python)


@dataclass(frozen=True)
class Peer:
    """One tool to compare against: capabilities as data."""

    name: str
    tool: str  # what it is, as its users call it
    models: tuple[str, ...]  # zoo model names it runs: exact, or a prefix ending in '-'
    modes: tuple[str, ...]  # of MODES
    modules: tuple[str, ...]  # what must import in its interpreter
    install: str  # the command that installs it
    venv: str | None = None  # its own venv's folder name (see venv_roots), None = this interpreter
    weights: str = "zoo"  # 'zoo': the zoo model's own source file; 'own': the tool ships its model
    runtime: str = "python"  # 'python', or 'node': `modules` are npm packages in the folder `venv`

    def serves(self, model: str) -> bool:
        return any(model.startswith(m) if m.endswith("-") else model == m for m in self.models)

    def python(self) -> Path | None:
        """The interpreter that runs it: this one, or its venv's (None when no venv is found)."""
        if self.venv is None:
            return Path(sys.executable)
        for root in venv_roots():
            candidate = root / self.venv / "bin" / "python"
            if candidate.is_file():
                return candidate
        return None

    def folder(self) -> Path | None:
        """A Node peer's own folder (its node_modules inside), None when none is found."""
        if self.venv is None:
            return None
        for root in venv_roots():
            if (root / self.venv / "node_modules").is_dir():
                return root / self.venv
        return None

    def missing(self) -> str | None:
        """Why it cannot run here (with the install command), or None when it can."""
        if self.runtime == "node":
            return self._missing_node()
        python = self.python()
        if python is None:
            where = " or ".join(str(r / self.venv) for r in venv_roots()) if self.venv else ""
            return f"peer {self.name}: not installed (no venv at {where}); install with {self.install}"
        if self.venv is None:
            absent = [m for m in self.modules if importlib.util.find_spec(m) is None]
        else:
            probe = "import importlib.util, json, sys; print(json.dumps([m for m in sys.argv[1:] " \
                    "if importlib.util.find_spec(m) is None]))"
            try:
                done = subprocess.run([str(python), "-c", probe, *self.modules], capture_output=True,
                                      text=True, timeout=120, check=False)
                absent = json.loads(done.stdout) if done.returncode == 0 else list(self.modules)
            except (OSError, subprocess.TimeoutExpired, ValueError):
                absent = list(self.modules)
        if absent:
            return f"peer {self.name}: not installed ({', '.join(absent)} missing in {python}); install with {self.install}"
        return None

    def _missing_node(self) -> str | None:
        if shutil.which("node") is None:
            return f"peer {self.name}: not installed (no node on PATH); install Node.js, then {self.install}"
        folder = self.folder()
        where = " or ".join(str(r / str(self.venv)) for r in venv_roots())
        absent = [m for m in self.modules
                  if folder is None or not (folder / "node_modules" / m / "package.json").is_file()]
        if absent:
            return f"peer {self.name}: not installed ({', '.join(absent)} missing in {folder or where}); install with {self.install}"
        return None

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "tool": self.tool, "models": list(self.models), "modes": list(self.modes),
                "install": self.install, "venv": self.venv, "runtime": self.runtime}


def venv_roots() -> list[Path]:
    """Where peer venvs are looked for: $EDGEPHOTO_PEER_VENVS, ./.cache, then the edgephoto cache."""
    from edgephoto.zoo.weights import cache_dir

    roots = [Path(os.environ[VENVS_ENV])] if os.environ.get(VENVS_ENV) else []
    return [*roots, Path.cwd() / ".cache", cache_dir()]


PEERS: Registry[Peer] = Registry("peer")
PEERS.add("opencv", Peer(
    "opencv", "OpenCV dnn_superres", ("fsrcnn-",), ("model", "call"), ("cv2",),
    "pip install opencv-contrib-python==5.0.0.93"))
PEERS.add("mediapipe", Peer(
    "mediapipe", "MediaPipe 0.10.21 ImageSegmenter (selfie model from its own wheel)", ("selfie",),
    ("model", "call"), ("mediapipe",),
    "python -m venv .cache/peer-mediapipe && .cache/peer-mediapipe/bin/pip install mediapipe==0.10.21",
    venv="peer-mediapipe", weights="own"))
PEERS.add("tensorflow", Peer(
    "tensorflow", "TensorFlow 2.21 / tf_keras running the source model", ("esrgan-", "fsrcnn-"), ("model",),
    ("tensorflow", "tf_keras"), "pip install 'edgephoto[convert]' (tensorflow==2.21.0 tf-keras==2.21.0)"))
# esrgan-slim only: thick's model.json names custom layers (MultiplyBeta, ...) that UpscalerJS's
# model packages register in their own JavaScript, which this peer does not load (TF.js then
# refuses the graph: "Unknown layer: MultiplyBeta", seen in benchmarks/side_by_side.py).
PEERS.add("upscalerjs", Peer(
    "upscalerjs", "UpscalerJS 1.0 under Node.js (TensorFlow.js 4.11, WebAssembly backend)", ("esrgan-slim-",),
    ("model",), ("upscaler", "@tensorflow/tfjs", "@tensorflow/tfjs-backend-wasm"),
    "npm install --prefix .cache/peer-upscalerjs upscaler@1.0.0 @tensorflow/tfjs@4.11.0 "
    "@tensorflow/tfjs-backend-wasm@4.11.0", venv="peer-upscalerjs", runtime="node"))


def peers_for(model: str, mode: str, chosen: list[str] | None = None) -> list[tuple[Peer, str | None]]:
    """The peers that apply to `model` in `mode` (or exactly `chosen`, unknown names refused
    with the nearest suggested), each with why it cannot run here (None when it can)."""
    picked = [PEERS.get(n) for n in chosen] if chosen else [p for _, p in PEERS if p.serves(model)]
    out: list[tuple[Peer, str | None]] = []
    for peer in picked:
        if not peer.serves(model):
            out.append((peer, f"peer {peer.name}: does not run {model} (it runs {', '.join(peer.models)})"))
        elif mode not in peer.modes:
            out.append((peer, f"peer {peer.name}: times {' and '.join(peer.modes)} runs only, not '{mode}'"))
        else:
            out.append((peer, peer.missing()))
    return out


def peer_command(peer: Peer, settings: dict[str, Any]) -> list[str]:
    """The child's command line: its interpreter running peer_child.py by path (a foreign venv
    has no edgephoto installed; the script imports edgephoto only for peers that need it), or
    node running peer_child_node.cjs with the peer's folder in the settings."""
    if peer.runtime == "node":
        folder, node = peer.folder(), shutil.which("node")
        assert folder is not None and node is not None, peer.missing()
        script = Path(__file__).with_name("peer_child_node.cjs")
        return [node, str(script), peer.name, json.dumps({**settings, "peer_dir": str(folder)})]
    python = peer.python()
    assert python is not None, peer.missing()
    script = Path(__file__).with_name("peer_child.py")
    return [str(python), str(script), peer.name, json.dumps(settings)]
