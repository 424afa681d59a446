"""`edgephoto zoo` through the real entry point (`main` maps errors to exit codes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import edgephoto.zoo
from cli_runner import run
from edgephoto.zoo import MODELS

# A real weights directory that every clone has: the copies the package ships.
WEIGHTS = Path(edgephoto.zoo.__file__).with_name("bundled")


@pytest.fixture(autouse=True)
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("EDGEPHOTO_CACHE", str(cache))
    monkeypatch.delenv("EDGEPHOTO_WEIGHTS_PATH", raising=False)
    return cache


def test_list_json_has_every_model(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["zoo", "list", "--json"], capsys)
    assert code == 0
    rows = json.loads(out)
    assert sorted(r["name"] for r in rows) == sorted(MODELS.names())
    assert {r["name"] for r in rows if r["opt_in"]} == {"isnet", "rvm"}
    assert not any(r["cached"] for r in rows)


def test_info_json_shows_the_full_spec(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["zoo", "info", "esrgan-slim-x4", "--json"], capsys)
    assert code == 0
    info = json.loads(out)
    assert info["scale"] == 4 and info["licence"] == "MIT" and info["permissive"]
    assert info["inputs"][0]["normalization"]["color"] == "RGB"
    assert info["outputs"][0]["meaning"]
    assert info["tile"]["mode"] == "tile" and info["tile"]["overlap"] > 0
    first = info["files"][0]
    assert len(first["sha256"]) == 64
    assert [s["kind"] for s in first["sources"]] == ["npm", "url"]


def test_info_text_names_licence_opt_in(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["zoo", "info", "rvm"], capsys)
    assert code == 0
    assert "GPL-3.0 (opt-in: --accept-licence GPL-3.0)" in out
    assert "sha256 64cf47fe" in out


@pytest.mark.parametrize("sub", ["info", "fetch"])
def test_unknown_model_is_one_line_with_suggestion(sub: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["zoo", sub, "esrgan-slimx2"], capsys)
    assert code == 2
    assert err.count("\n") == 1 and "Did you mean 'esrgan-slim-x2'?" in err


def test_fetch_copyleft_needs_accept_licence(capsys: pytest.CaptureFixture[str], empty_cache: Path) -> None:
    code, _, err = run(["zoo", "fetch", "isnet"], capsys)
    assert code == 12
    assert "--accept-licence AGPL-3.0" in err
    assert not empty_cache.exists()  # refused before any download


def test_fetch_from_weights_dir(capsys: pytest.CaptureFixture[str], empty_cache: Path) -> None:
    code, out, err = run(["zoo", "fetch", "fsrcnn-x3", "--weights-dir", str(WEIGHTS), "--json"], capsys)
    assert code == 0, err
    result = json.loads(out)
    assert result["fetched"] == [{"name": "fsrcnn-x3", "root": str(WEIGHTS), "files": ["upscale/FSRCNN_x3.pb"]}]


@pytest.mark.usefixtures("offline")  # the jsDelivr fallback must fail too: a dead proxy
def test_fetch_failure_lists_sources(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(["zoo", "fetch", "selfie-landscape", "--weights-dir", str(tmp_path)], capsys)
    assert code == 7
    assert "npm @mediapipe/selfie_segmentation@0.1.1675465747:" in err
    assert "url https://cdn.jsdelivr.net/npm/" in err and "download failed" in err


@pytest.mark.real
def test_fetch_real_npm_shows_progress(capsys: pytest.CaptureFixture[str], empty_cache: Path) -> None:
    code, out, err = run(["zoo", "fetch", "selfie-landscape"], capsys)
    assert code == 0, err
    assert "npm pack @mediapipe/selfie_segmentation@0.1.1675465747" in err
    assert f"1 file(s) verified in {empty_cache / 'weights'}" in out
    code, out, _ = run(["zoo", "list", "--json"], capsys)
    assert {r["name"] for r in json.loads(out) if r["cached"]} == {"selfie-landscape"}
