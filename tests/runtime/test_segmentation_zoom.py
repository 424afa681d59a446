"""segment(zoom=True): the crop geometry, when a second pass runs, and that it pays on a real
small person while a large person gets exactly the single pass (benchmarks/person_zoom.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from PIL import Image

from edgephoto.errors import InvalidOptionError
from edgephoto.metrics import iou
from edgephoto.runtime.tasks.segmentation import (
    ZoomPolicy,
    person_box,
    person_boxes,
    segment,
    zoom_crop,
    zoom_regions,
)
from shared_dir import DATA

PORTRAITS = DATA / "portraits"
SMALL_PERSON = 146  # the person fills 6 % of the frame (IoU 0.902 -> 0.926 on onnxruntime)
LARGE_PERSON = 5  # the person fills 47 % of the frame
TWO_APART = 21  # two people at either side: one box around both is too large to zoom, each alone is not


def blob(hw: tuple[int, int], box: tuple[int, int, int, int]) -> np.ndarray:
    low = np.zeros(hw, np.float32)
    low[box[0] : box[2], box[1] : box[3]] = 0.9
    return low


def test_person_box_bounds_everyone_above_the_threshold() -> None:
    low = blob((256, 256), (64, 32, 128, 96))
    low[200:210, 220:230] = 0.7  # a second person: one box holds both
    assert person_box(low) == (64 / 256, 32 / 256, 210 / 256, 230 / 256)
    assert person_box(low, 0.8) == (64 / 256, 32 / 256, 128 / 256, 96 / 256)
    assert person_box(np.full((8, 8), 0.4, np.float32)) is None


@pytest.mark.parametrize("box", [(0.3, 0.45, 0.75, 0.6), (0.0, 0.0, 0.1, 0.9), (0.9, 0.95, 1.0, 1.0),
                                 (0.4, 0.4, 0.41, 0.41)])
@pytest.mark.parametrize("photo_hw", [(640, 480), (183, 276), (1000, 50)])
def test_zoom_crop_holds_the_box_stays_in_the_photo_and_bounds_the_stretch(
        box: tuple[float, float, float, float], photo_hw: tuple[int, int]) -> None:
    top, left, bottom, right = zoom_crop(box, photo_hw, margin=0.1, max_aspect=2.0)
    height, width = photo_hw
    assert 0 <= top < bottom <= height and 0 <= left < right <= width
    assert top <= round(box[0] * height) and bottom >= round(box[2] * height) - 1
    assert left <= round(box[1] * width) and right >= round(box[3] * width) - 1
    long_side, short_side = max(bottom - top, right - left), min(bottom - top, right - left)
    if bottom - top < height and right - left < width:  # not cut by the photo: the ratio holds
        assert long_side <= 2.0 * short_side + 1


def test_person_boxes_part_people_at_empty_columns_largest_first() -> None:
    low = blob((256, 256), (64, 32, 128, 96))
    low[100:250, 150:230] = 0.8  # a larger second person, 54 empty columns away
    low[10:12, 250:252] = 0.9  # a stray blob: under min_share of the person pixels
    assert person_boxes(low) == [(100 / 256, 150 / 256, 250 / 256, 230 / 256), (64 / 256, 32 / 256, 128 / 256, 96 / 256)]
    assert person_boxes(low, gap=0.25) == [person_box(low)]  # a wider gap to part them: one box, as before
    touching = blob((256, 256), (64, 32, 128, 96))
    touching[100:250, 97:230] = 0.8  # one empty column between them: under the default gap
    assert len(person_boxes(touching)) == 1
    assert person_boxes(np.zeros((8, 8), np.float32)) == []


def test_zoom_regions_only_where_a_crop_pays() -> None:
    hw = (640, 480)
    assert zoom_regions(np.zeros((256, 256), np.float32), hw) == []  # nobody found
    assert zoom_regions(blob((256, 256), (10, 10, 250, 250)), hw) == []  # one large person
    assert len(zoom_regions(blob((256, 256), (80, 110, 190, 150)), hw)) == 1
    assert zoom_regions(blob((256, 256), (80, 110, 190, 150)), hw, ZoomPolicy(max_area=0.05)) == []
    two = blob((256, 256), (40, 10, 250, 100))
    two[40:250, 150:250] = 0.9  # two tall people apart: together 0.78 of the map, each about 0.3
    first, second = zoom_regions(two, hw)
    centre = hw[1] / 2
    assert (first[1] + first[3]) / 2 > centre > (second[1] + second[3]) / 2  # the larger (right) one first
    assert zoom_regions(two, hw, ZoomPolicy(per_person=False)) == []  # one box around both: too large
    assert len(zoom_regions(two, hw, ZoomPolicy(max_crops=1))) == 1


def test_zoom_policy_and_option_errors_say_what_is_valid() -> None:
    with pytest.raises(InvalidOptionError, match=r"fuse must be one of \['max', 'replace', 'mean'\].*'max'"):
        ZoomPolicy(fuse="maxx")
    with pytest.raises(InvalidOptionError, match="max_area must be in"):
        ZoomPolicy(max_area=0.0)
    with pytest.raises(InvalidOptionError, match="max_aspect"):
        ZoomPolicy(max_aspect=0.5)
    with pytest.raises(InvalidOptionError, match="max_crops must be >= 1"):
        ZoomPolicy(max_crops=0)
    with pytest.raises(InvalidOptionError, match="gap must be in"):
        ZoomPolicy(gap=1.5)
    with pytest.raises(InvalidOptionError, match="zoom must be True, False or a ZoomPolicy"):
        segment(None, {}, np.zeros((4, 4, 3), np.uint8), zoom="yes")  # type: ignore[arg-type]


# ---- the real selfie model on the shared portraits ------------------------------------------

@pytest.fixture(scope="module")
def selfie(zoo_weights: Any) -> Iterator[tuple[Any, Any, list[int]]]:
    """(backend, spec, calls): the zoo selfie on LiteRT, 1 thread, every backend.run counted."""
    from edgephoto.runtime.backends.base import load_backend

    pytest.importorskip("ai_edge_litert")
    spec, root = zoo_weights("selfie")
    backend = load_backend("litert", root / spec.files[0].path, threads=1)
    calls = [0]
    run = backend.run

    def counted(feeds: Any) -> Any:
        calls[0] += 1
        return run(feeds)

    backend.run = counted  # type: ignore[method-assign]
    yield backend, spec, calls
    backend.close()


def portrait(i: int) -> tuple[np.ndarray, np.ndarray]:
    rgb = np.asarray(Image.open(PORTRAITS / "images" / f"{i}.jpg").convert("RGB"))
    truth = Image.open(PORTRAITS / "masks" / f"{i}.png").convert("L")
    return rgb, np.asarray(truth.resize((rgb.shape[1], rgb.shape[0]), Image.Resampling.NEAREST)) > 127


def runs(calls: list[int], make: Callable[[], np.ndarray]) -> tuple[np.ndarray, int]:
    before = calls[0]
    out = make()
    return out, calls[0] - before


@pytest.mark.real
@pytest.mark.shared("data/portraits")
def test_zoom_raises_iou_on_a_small_person_with_one_more_run(selfie: tuple[Any, Any, list[int]]) -> None:
    backend, spec, calls = selfie
    rgb, truth = portrait(SMALL_PERSON)
    assert truth.mean() < 0.10
    single, one = runs(calls, lambda: segment(backend, spec, rgb, zoom=False))
    zoomed, two = runs(calls, lambda: segment(backend, spec, rgb))  # zoom is the default
    assert (one, two) == (1, 2)
    np.testing.assert_array_equal(segment(backend, spec, rgb, zoom=ZoomPolicy()), zoomed)
    assert zoomed.shape == rgb.shape[:2] and zoomed.dtype == np.float32
    assert 0.0 <= zoomed.min() and zoomed.max() <= 1.0
    assert iou(zoomed > 0.5, truth) > iou(single > 0.5, truth) + 0.01


@pytest.mark.real
@pytest.mark.shared("data/portraits")
def test_zoom_looks_at_two_people_apart_one_by_one(selfie: tuple[Any, Any, list[int]]) -> None:
    backend, spec, calls = selfie
    rgb, truth = portrait(TWO_APART)
    single, _ = runs(calls, lambda: segment(backend, spec, rgb, zoom=False))
    group, one = runs(calls, lambda: segment(backend, spec, rgb, zoom=ZoomPolicy(per_person=False)))
    each, three = runs(calls, lambda: segment(backend, spec, rgb))
    assert (one, three) == (1, 3)  # one box around both never zooms; a crop per person does
    np.testing.assert_array_equal(group, single)
    assert iou(each > 0.5, truth) > iou(single > 0.5, truth) + 0.1


@pytest.mark.real
@pytest.mark.shared("data/portraits")
def test_zoom_on_a_large_person_is_the_single_pass_exactly(selfie: tuple[Any, Any, list[int]]) -> None:
    backend, spec, calls = selfie
    rgb, truth = portrait(LARGE_PERSON)
    assert truth.mean() > 0.40
    single, _ = runs(calls, lambda: segment(backend, spec, rgb, zoom=False))
    zoomed, count = runs(calls, lambda: segment(backend, spec, rgb))
    assert count == 1  # no second model run
    np.testing.assert_array_equal(zoomed, single)


@pytest.mark.real
@pytest.mark.shared("data/portraits")
def test_zoom_keeps_input_errors_clear(selfie: tuple[Any, Any, list[int]]) -> None:
    from edgephoto.api import TaskModel

    backend, spec, _ = selfie
    rgb, _ = portrait(SMALL_PERSON)
    with pytest.raises(InvalidOptionError, match="fit must be 'stretch' or 'letterbox'"):
        segment(backend, spec, rgb, fit="fill", zoom=True)
    model = TaskModel(backend, spec.to_dict(), PORTRAITS)  # what edgephoto.load gives
    with pytest.raises(InvalidOptionError, match=r"\(H, W, 3\) uint8 RGB array; got float32 \[640, 480, 3\]"):
        model(rgb.astype(np.float32), zoom=True)
    with pytest.raises(InvalidOptionError, match="zoom fuse must be one of"):
        model(rgb, zoom=ZoomPolicy(fuse="blend"))


# ---- the CLI switch ---------------------------------------------------------------------------

def test_cli_zoom_switch_needs_a_segment_step(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from cli_runner import run

    code, _, err = run(["run", "--steps", "exif", "--no-zoom", "--no-build", "--out", str(tmp_path)], capsys)
    assert code == 2 and "--zoom/--no-zoom is the segment step's option" in err, err
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


@pytest.mark.real
@pytest.mark.slow
@pytest.mark.shared("data/portraits")
def test_cli_no_zoom_runs_the_single_pass(tmp_path: Any, capsys: pytest.CaptureFixture[str],
                                          zoo_weights: Any) -> None:
    import json

    from cli_runner import run

    photo = PORTRAITS / "images" / f"{TWO_APART}.jpg"
    masks = {}
    for flag in ("--zoom", "--no-zoom"):
        code, out, err = run(["run", str(photo), "--steps", "segment", "--backend", "onnxruntime", flag, "--json",
                              "--out", str(tmp_path / flag)], capsys)
        assert code == 0, err
        (summary,) = json.loads(out)
        assert summary["parameters"]["segment"]["zoom"] is (flag == "--zoom")
        masks[flag] = np.asarray(Image.open(summary["outputs"]["mask"])) > 127
    truth = portrait(TWO_APART)[1]
    assert iou(masks["--zoom"], truth) > iou(masks["--no-zoom"], truth) + 0.1
