"""Face-aware retouch (issue 13): the 68-point mapping, the region masks and the edits, measured
on real portraits with the real BlazeFace + FaceMesh models."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from PIL import Image

from edgephoto.runtime.face_regions import IBUG68_FROM_FACEMESH, REGIONS, landmarks_68
from edgephoto.runtime.image_io import read_photo
from edgephoto.runtime.photo.colour import rgb_to_lab
from edgephoto.runtime.photo.filters import box_mean
from edgephoto.runtime.retouch import high_frequency_energy, regions_for, retouch, retouch_face
from shared_dir import PORTRAITS

# BlazeFace finds one face in each (face 220-270 px wide): 71 and 82 smile with teeth showing,
# 76 (an old man, lined skin) keeps his mouth shut.
PHOTOS = (71, 82, 76)
ONLY = {"skin": {"teeth": 0.0, "eyes": 0.0}, "teeth": {"skin": 0.0, "eyes": 0.0}, "eyes": {"skin": 0.0, "teeth": 0.0}}


def test_the_table_is_68_facemesh_vertices_in_ibug_order() -> None:
    assert len(IBUG68_FROM_FACEMESH) == 68
    flat = [i for idx in IBUG68_FROM_FACEMESH for i in idx]
    assert all(0 <= i < 468 for i in flat) and all(1 <= len(idx) <= 2 for idx in IBUG68_FROM_FACEMESH)
    assert IBUG68_FROM_FACEMESH[8] == (152,)  # chin: FaceMesh's lowest midline vertex
    points = np.zeros((468, 3))
    points[:, 0] = np.arange(468)
    out = landmarks_68(points)
    assert out.shape == (68, 2) and out[3, 0] == (132 + 58) / 2


@pytest.fixture(scope="module")
def face_models(zoo_weights: Any) -> Any:
    """(find, landmarks): BlazeFace and FaceMesh on LiteRT, as the pipeline's tasks run them."""
    pytest.importorskip("ai_edge_litert")
    from edgephoto.runtime.backends.base import load_backend
    from edgephoto.runtime.tasks import TASKS

    (det_spec, det_root), (mesh_spec, mesh_root) = zoo_weights("blazeface"), zoo_weights("facemesh")
    detector = load_backend("litert", det_root / det_spec.files[0].path, threads=1)
    mesh = load_backend("litert", mesh_root / mesh_spec.files[0].path, threads=1)
    yield (lambda rgb: TASKS.get("face_detection").run(detector, det_spec, rgb),
           lambda rgb, face: TASKS.get("face_landmarks").run(mesh, mesh_spec, rgb, face))
    detector.close()
    mesh.close()


@pytest.fixture(scope="module")
def faces(face_models: Any) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """photo -> (RGB, iBUG-68 points, the dataset's person mask 0..1) for PHOTOS."""
    find, landmarks = face_models
    found = {}
    for index in PHOTOS:
        rgb = read_photo(PORTRAITS / f"{index}.jpg").rgb
        (face,) = find(rgb)
        marks = landmarks(rgb, face)
        assert marks.presence > 0.9
        found[index] = (rgb, landmarks_68(marks.points), _person(index, rgb))
    return found


def max_channel_change(out: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    """(H, W) largest per-channel |out - rgb| in levels: what every region check compares."""
    return np.abs(out.astype(np.int16) - rgb).max(axis=2)


def _person(index: int, rgb: np.ndarray) -> np.ndarray:
    truth = Image.open(PORTRAITS.parent / "masks" / f"{index}.png").convert("L")
    return np.asarray(truth.resize(rgb.shape[1::-1], Image.Resampling.NEAREST), np.float32) / 255.0


@pytest.mark.real
@pytest.mark.shared("data/portraits")
@pytest.mark.parametrize("index", PHOTOS)
def test_68_points_fall_in_face_order(faces: Any, index: int) -> None:
    rgb, p, _ = faces[index]
    x, y = p[:, 0], p[:, 1]
    eyes_y, mouth_y, brows_y = y[36:48].mean(), y[48:68].mean(), y[17:27].mean()
    assert brows_y < eyes_y < y[30] < mouth_y < y[8]  # brows, eyes, nose tip, mouth, chin: top to bottom
    assert x[36:42].mean() < x[27] < x[42:48].mean()  # subject's right eye on the image's left
    assert x[17:22].mean() < x[22:27].mean() and x[48] < x[51] < x[54]
    assert x[0] < x[36:48].min() and x[16] > x[36:48].max()  # the jaw spans the face's width
    # the jaw runs down from each ear to the chin, which is its lowest point
    assert np.all(np.diff(y[0:9]) > -2) and np.all(np.diff(y[8:17]) < 2) and x[0] < x[8] < x[16]
    assert y[8] == pytest.approx(y[0:17].max(), abs=3)
    face_w = x[16] - x[0]
    assert 150 < face_w < 400 and 0 <= x.min() and x.max() < rgb.shape[1]
    # inner lip inside the outer lip
    assert x[48] <= x[60] and x[64] <= x[54] and y[51] <= y[62] and y[66] <= y[57]
    assert x[60:68].min() >= x[48:60].min() and x[60:68].max() <= x[48:60].max()


@pytest.mark.real
@pytest.mark.shared("data/portraits")
@pytest.mark.parametrize("index", PHOTOS)
def test_regions_are_where_the_face_is(faces: Any, index: int) -> None:
    rgb, p, person = faces[index]
    regions = regions_for(rgb, p, person=person)
    shape = rgb.shape[:2]
    full = {name: regions.full(name, shape) for name in REGIONS}
    assert all(full[name].max() > 0.5 for name in ("skin", "eyes", "brows", "lips"))
    cheek = np.rint((p[1] + p[29]) / 2).astype(int)  # between the jaw and the nose: the cheekbone
    assert full["skin"][cheek[1], cheek[0]] > 0.5
    for name in ("eyes", "brows", "lips", "mouth"):  # skin is 0 inside every feature's contour
        assert not full["skin"][full[name] > 0.75].any(), name
    eye = np.rint(p[36:42].mean(axis=0)).astype(int)
    assert full["eyes"][eye[1], eye[0]] > 0.9
    assert np.all(full["skin"][person == 0] == 0)  # intersected with the person mask


@pytest.mark.real
@pytest.mark.shared("data/portraits")
@pytest.mark.parametrize("index", PHOTOS)
def test_edits_stay_inside_their_regions(faces: Any, index: int) -> None:
    rgb, p, person = faces[index]
    out, params = retouch(rgb, [p], person=person)
    regions = regions_for(rgb, p, person=person)
    change = max_channel_change(out, rgb)
    assert change[~regions.union(rgb.shape[:2])].max() <= 1
    assert change[regions.full("skin", rgb.shape[:2]) > 0.5].mean() > 0.5  # the skin did change
    assert params["faces"][0]["box"] == [regions.box[2], regions.box[0], regions.box[3], regions.box[1]]
    assert {"strength", "skin", "texture", "teeth", "eyes"} <= set(params)


@pytest.mark.real
@pytest.mark.shared("data/portraits")
@pytest.mark.parametrize("index", PHOTOS)
def test_skin_smoothing_lowers_fine_detail_but_keeps_texture(faces: Any, index: int) -> None:
    rgb, p, person = faces[index]
    regions = regions_for(rgb, p, person=person)
    out, facts = retouch_face(rgb, regions, **ONLY["skin"])
    skin = regions.full("skin", rgb.shape[:2])
    before = high_frequency_energy(rgb, skin, regions.face_width)
    after = high_frequency_energy(out, skin, regions.face_width)
    # Measured on these three: 0.51-0.57 of the pore band kept at the defaults (texture 0.6).
    assert 0.3 < after / before < 0.85, (before, after)
    assert facts["skin_fine_energy_kept"] == pytest.approx(after / before, abs=0.05)
    smoother, _ = retouch_face(rgb, regions, texture=0.0, **ONLY["skin"])
    assert high_frequency_energy(smoother, skin, regions.face_width) < after  # texture is the knob
    change = max_channel_change(out, rgb)
    assert change[skin == 0].max() <= 1


@pytest.mark.real
@pytest.mark.shared("data/portraits")
@pytest.mark.parametrize("index", (71, 82))
def test_teeth_brighten_inside_the_inner_lip_only(faces: Any, index: int) -> None:
    rgb, p, person = faces[index]
    regions = regions_for(rgb, p, person=person)
    out, facts = retouch_face(rgb, regions, **ONLY["teeth"])
    mouth = regions.full("mouth", rgb.shape[:2])
    changed = max_channel_change(out, rgb) > 0
    assert not changed[mouth == 0].any()
    assert facts["teeth_px"] > 200  # both smile with their teeth showing
    lab_before, lab_after = rgb_to_lab(rgb)[changed], rgb_to_lab(out)[changed]
    assert lab_after[:, 0].mean() > lab_before[:, 0].mean() + 1.0  # lighter
    assert lab_after[:, 2].mean() < lab_before[:, 2].mean()  # less yellow
    # lips and the dark of the mouth are left alone: only bright, near-neutral pixels move
    assert lab_before[:, 0].min() > 35 and np.hypot(lab_before[:, 1], lab_before[:, 2]).max() < 30


@pytest.mark.real
@pytest.mark.shared("data/portraits")
def test_a_closed_mouth_has_almost_no_teeth_to_brighten(faces: Any) -> None:
    rgb, p, person = faces[76]
    _, facts = retouch_face(rgb, regions_for(rgb, p, person=person), **ONLY["teeth"])
    assert facts["teeth_px"] < 50


@pytest.mark.real
@pytest.mark.shared("data/portraits")
@pytest.mark.parametrize("index", PHOTOS)
def test_eyes_are_sharpened_inside_the_eye_regions(faces: Any, index: int) -> None:
    rgb, p, person = faces[index]
    regions = regions_for(rgb, p, person=person)
    out, _ = retouch_face(rgb, regions, **ONLY["eyes"])
    eyes = regions.full("eyes", rgb.shape[:2])
    change = max_channel_change(out, rgb)
    assert change[eyes == 0].max() == 0 and change[eyes > 0.5].mean() > 0.5
    inside = eyes > 0.5
    assert high_frequency_energy(out, inside, regions.face_width) > 1.2 * high_frequency_energy(
        rgb, inside, regions.face_width)


@pytest.mark.real
@pytest.mark.shared("data/portraits")
def test_strength_zero_gives_the_photo_back(faces: Any) -> None:
    rgb, p, person = faces[71]
    out, params = retouch(rgb, [p], person=person, strength=0.0)
    assert np.array_equal(out, rgb) and params["strength"] == 0.0
    out, _ = retouch(rgb, [p], skin=0.0, teeth=0.0, eyes=0.0)
    assert np.array_equal(out, rgb)


def test_an_unknown_option_names_the_valid_ones() -> None:
    from edgephoto.errors import InvalidOptionError

    rgb = np.zeros((64, 64, 3), np.uint8)
    marks = np.array([[10 + i * 2.5, 30 + 10 * np.sin(i / 5.4)] for i in range(68)], np.float32)
    with pytest.raises(InvalidOptionError, match="teeth"):
        retouch(rgb, [marks], teth=0.5)


@pytest.mark.real
@pytest.mark.shared("data/portraits")
def test_segmentation_guided_denoise_cleans_the_background_more_than_the_person(faces: Any) -> None:
    rgb, p, person = faces[82]  # a flat blue backdrop
    # These web portraits are clean (measured sigma < 1, so denoise leaves them alone): add noise.
    noisy = np.clip(rgb + np.random.default_rng(13).normal(0, 6, rgb.shape), 0, 255).astype(np.uint8)
    off = {"skin": 0.0, "teeth": 0.0, "eyes": 0.0}
    out, params = retouch(noisy, [p], person=person, denoise=1.0, **off)
    assert params["denoise_applied"]["applied"] and params["denoise_applied"]["sigma_measured"] > 4

    def error(image: np.ndarray, where: np.ndarray) -> float:
        return float(np.abs(image.astype(np.float64) - rgb)[where].mean())

    # Judged where the clean photo is flat (local std < 4): there the change is noise removed, not
    # texture lost. Measured: background error 3.5x lower, the person's 1.27x (a quarter-strength pass).
    grey = rgb.astype(np.float32).mean(axis=2)
    flat = np.sqrt(np.maximum(box_mean(grey * grey, 2) - box_mean(grey, 2) ** 2, 0)) < 4
    background, subject = (person == 0) & flat, (person == 1) & flat
    gain_background = error(noisy, background) / error(out, background)
    gain_subject = error(noisy, subject) / error(out, subject)
    assert gain_background > 2.5 and 1.05 < gain_subject < 1.6, (gain_background, gain_subject)
    same, params = retouch(noisy, [p], **off, denoise=1.0)  # no person mask: skipped, and said so
    assert np.array_equal(same, noisy) and "segment" in params["denoise_applied"]["reason"]
    assert "denoise_applied" not in retouch(noisy, [p], person=person, **off)[1]  # off by default


@pytest.mark.real
@pytest.mark.shared("data/portraits")
def test_two_faces_are_each_retouched_and_nothing_else_moves(face_models: Any) -> None:
    find, landmarks = face_models
    rgb = read_photo(PORTRAITS / "94.jpg").rgb  # two women side by side, one in a patterned headscarf
    marks = [landmarks_68(landmarks(rgb, face).points) for face in find(rgb)]
    assert len(marks) == 2
    person = _person(94, rgb)
    out, params = retouch(rgb, marks, person=person)
    assert len(params["faces"]) == 2
    union = np.logical_or.reduce([regions_for(rgb, m, person=person).union(rgb.shape[:2]) for m in marks])
    change = max_channel_change(out, rgb)
    assert change[~union].max() <= 1
    for facts in params["faces"]:
        x0, y0, x1, y1 = facts["box"]
        assert change[y0:y1, x0:x1].mean() > 0.3 and facts["teeth_px"] > 100  # both laugh
