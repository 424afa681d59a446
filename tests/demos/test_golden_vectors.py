"""The committed golden vectors are what the runtime computes today: a runtime change that moves
tiling, pre- or post-processing fails here until scripts/write_golden_vectors.py is re-run (and
the web and Kotlin ports, which test against the same files, follow)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgephoto.runtime.golden import BUILDERS, build_all
from edgephoto.runtime.tiling import tile_grid

GOLDEN = Path(__file__).resolve().parents[2] / "golden_vectors"


@pytest.fixture(scope="module")
def built() -> dict[str, str]:
    return build_all()


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_committed_vectors_equal_the_runtime(built: dict[str, str], name: str) -> None:
    committed = (GOLDEN / name).read_text()
    assert json.loads(committed) == json.loads(built[name]), (
        f"golden_vectors/{name} differs from the runtime: re-run scripts/write_golden_vectors.py if intended")
    assert committed == built[name]


def test_readme_names_every_file() -> None:
    readme = (GOLDEN / "README.md").read_text()
    for name in BUILDERS:
        assert name in readme


def test_plans_agree_with_tile_grid(built: dict[str, str]) -> None:
    """The plan's tile windows are tile_grid's tiles (the two ways the runtime lays tiles out)."""
    for case in json.loads(built["tile_plans.json"])["cases"]:
        h, w = case.get("work_hw") or case["photo_hw"]
        grid = tile_grid(h, w, tuple(case["tile_hw"]), case["overlap"])
        assert [(t["y"], t["x"], t["row"], t["col"]) for t in case["tiles"]] == [
            (t.y, t.x, t.row, t.col) for t in grid]


def test_blend_weights_are_a_partition_of_unity(built: dict[str, str]) -> None:
    for case in json.loads(built["blend.json"])["cases"]:
        for key in ("weights_y", "weights_x"):
            weights = np.array(case[key]["data"], np.float64).reshape(case[key]["shape"])
            np.testing.assert_allclose(weights.sum(axis=0), 1.0, atol=1e-6)


def test_size_stays_small(built: dict[str, str]) -> None:
    assert sum(len(text) for text in built.values()) < 500_000
