"""bench peers: the registry, capabilities as data, a missing peer reported (never measured by
anything else), and the peer statistics and ratios on synthetic timings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cli_runner import run
from edgephoto.bench import peer_runs, stats
from edgephoto.bench.peers import PEERS, VENVS_ENV, Peer, peers_for
from edgephoto.bench.report import peer_lines, peer_rows, render_markdown
from edgephoto.bench.runner import BenchSettings, benchmark
from edgephoto.errors import UnknownNameError

from .tiny import tiny_artifact


def test_unknown_peer_suggests_the_nearest() -> None:
    with pytest.raises(UnknownNameError) as caught:
        PEERS.get("opencvv")
    assert caught.value.suggestion == "opencv" and "mediapipe" in str(caught.value)


def test_cli_refuses_an_unknown_peer_before_measuring(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["bench", "--model", "fsrcnn-x2", "--peer", "mediapip"], capsys)
    assert code == UnknownNameError.exit_code and "Did you mean 'mediapipe'?" in err


@pytest.mark.parametrize(("model", "mode", "expected"), [
    ("fsrcnn-x2", "model", {"opencv", "tensorflow"}), ("fsrcnn-x4", "call", {"opencv", "tensorflow"}),
    ("esrgan-thick-x4", "model", {"tensorflow"}), ("esrgan-slim-x4", "model", {"tensorflow", "upscalerjs"}), ("selfie", "call", {"mediapipe"}), ("fastdepth", "model", set()),
])
def test_peers_for_reads_the_capability_table(model: str, mode: str, expected: set[str]) -> None:
    found = peers_for(model, mode)
    assert {p.name for p, _ in found} == expected
    for peer, why in found:  # a peer that cannot time this kind of run says so
        if mode not in peer.modes:
            assert why is not None and f"not '{mode}'" in why


def test_a_peer_asked_for_a_model_it_does_not_run_says_so() -> None:
    ((peer, why),) = peers_for("fsrcnn-x2", "call", ["mediapipe"])
    assert peer.name == "mediapipe" and why is not None and "does not run fsrcnn-x2" in why


def test_missing_module_in_this_interpreter_is_reported_with_the_install_command() -> None:
    ghost = Peer("ghost", "a tool", ("fsrcnn-",), ("model",), ("edgephoto_no_such_module_xyz",), "pip install ghost")
    why = ghost.missing()
    assert why is not None and "not installed" in why and "pip install ghost" in why
    assert "edgephoto_no_such_module_xyz" in why


def test_peer_venv_without_the_tool_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real venv (no pip, so nothing but the standard library) where the tool is not installed."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "peer-empty")], check=True)
    monkeypatch.setenv(VENVS_ENV, str(tmp_path))
    peer = Peer("empty", "MediaPipe", ("selfie",), ("call",), ("mediapipe",), "pip install mediapipe==0.10.21",
                venv="peer-empty")
    assert peer.python() == tmp_path / "peer-empty" / "bin" / "python"
    why = peer.missing()
    assert why is not None and "mediapipe missing in" in why and "pip install mediapipe==0.10.21" in why
    absent = Peer("absent", "MediaPipe", ("selfie",), ("call",), ("mediapipe",), "make it", venv="peer-none")
    monkeypatch.chdir(tmp_path)
    assert absent.python() is None
    assert "no venv at" in (absent.missing() or "") and "make it" in (absent.missing() or "")


def _row(label: str, samples: list[float], *, peer: str | None = None, model: str = "fsrcnn-x2") -> dict[str, Any]:
    return {"label": label, "model": model, "peer": peer, "latency_ms": stats.summarize(samples),
            "cpu_ms": stats.summarize([s / 2 for s in samples]), "size_bytes": 100 if peer else 50,
            "peak_rss_mb": 80.0, "load": {"cold_start_ms": 200.0 if peer else 100.0}}


def test_versus_peers_on_synthetic_timings() -> None:
    ours = _row("fsrcnn-x2 onnx-fp32", [10.0, 12.0, 11.0, 30.0, 9.0])  # median 11
    peer = _row("peer opencv: fsrcnn-x2", [22.0, 20.0, 24.0, 21.0, 23.0], peer="opencv")  # median 22
    other_model = _row("peer tensorflow: esrgan-slim-x4", [5.0], peer="tensorflow", model="esrgan-slim-x4")
    results = [ours, peer, other_model]
    peer_runs.attach_versus(results)
    assert "vs_peers" not in peer and set(ours["vs_peers"]) == {"peer opencv: fsrcnn-x2"}
    vs = ours["vs_peers"]["peer opencv: fsrcnn-x2"]
    assert vs["speedup_median"] == 2.0 and vs["median_ratio"] == 0.5
    assert vs["size_ratio"] == 0.5 and vs["cold_start_ratio"] == 0.5 and vs["peak_rss_ratio"] == 1.0
    data = {"results": results, "peers": [
        {"peer": "opencv", "model": "fsrcnn-x2", "status": "measured", "message": "peer opencv: measured (model runs)"},
        {"peer": "mediapipe", "model": "fsrcnn-x2", "status": "not measured",
         "message": "peer mediapipe: not installed (no venv at x); install with y"}]}
    (row,) = peer_rows(data)
    assert row[:5] == ["fsrcnn-x2 onnx-fp32", "peer opencv: fsrcnn-x2", "22.000", "11.000", "2.00x"]
    assert row[5] == "5.50 / 11.00"  # CPU medians, ours / peer
    assert peer_lines(data)[1] == "fsrcnn-x2: peer mediapipe: not installed (no venv at x); install with y"


def test_markdown_shows_missing_peers(tmp_path: Path) -> None:
    artifact = tiny_artifact(tmp_path, convs=1)  # a tiny model no peer runs: every asked peer says why
    data = benchmark([artifact], BenchSettings(threads=1, warmup=0, runs=2, peak=False), peers=["mediapipe"])
    assert [r.get("peer") for r in data["results"]] == [None]  # no row stands in for the missing peer
    (status,) = data["peers"]
    assert status["status"] == "not measured" and "does not run" in status["message"]
    assert "vs_peers" not in data["results"][0]
    assert "## Peers" in render_markdown(data) and status["message"] in render_markdown(data)
