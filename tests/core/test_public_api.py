"""`edgephoto.load`: a zoo name or an artifact dir becomes a callable task model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import edgephoto
from edgephoto.errors import InvalidOptionError, UnknownNameError
from edgephoto.runtime.artifact import load_artifact
from edgephoto.runtime.image_io import read_photo, sample_path
from edgephoto.runtime.tasks import TASKS


def test_artifact_dir_gives_the_runtime_result_for_paths_images_and_arrays(
    zoo_artifacts: Callable[..., dict[str, object]],
) -> None:
    artifact = Path(str(zoo_artifacts("fsrcnn-x2")["onnx"].path))  # type: ignore[attr-defined]
    rgb = read_photo(sample_path()).rgb[:96, :80]
    backend, manifest = load_artifact(artifact)
    expected = TASKS.get("upscale").run(backend, manifest, rgb)
    with edgephoto.load(artifact, threads=1) as model:
        assert (model.task, model.name) == ("upscale", "fsrcnn-x2")
        assert model.describe()["backend"] == "onnxruntime"
        np.testing.assert_array_equal(model(rgb), expected)
        np.testing.assert_array_equal(model(Image.fromarray(rgb)), expected)
        with pytest.raises(InvalidOptionError, match="uint8 RGB"):
            model(rgb.astype(np.float32))
    with edgephoto.load(str(artifact / "manifest.json")) as model:  # a file inside the dir
        assert model(sample_path()).shape == (1024, 1024, 3)


def test_zoo_name_is_built_once_then_reused(zoo_weights: Callable[[str], object], tmp_path: Path) -> None:
    zoo_weights("fsrcnn-x2")  # the test weights cache, offline sources
    messages: list[str] = []
    with edgephoto.load("fsrcnn-x2", artifacts=tmp_path, progress=messages.append) as model:
        first = model(np.full((20, 30, 3), 128, np.uint8))
    assert first.shape == (40, 60, 3) and any("converting" in m for m in messages)
    messages.clear()
    with edgephoto.load("fsrcnn-x2", artifacts=tmp_path, progress=messages.append) as model:
        np.testing.assert_array_equal(model(np.full((20, 30, 3), 128, np.uint8)), first)
    assert messages == []
    with pytest.raises(UnknownNameError, match="fsrcnn-x2"):
        edgephoto.load("fsrcnn-x22", artifacts=tmp_path)
