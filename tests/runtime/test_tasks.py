"""Task runners above the backend: exact checks with tiny models, real checks with zoo models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from edgephoto import metrics
from edgephoto.runtime.image_io import sample_path
from edgephoto.runtime.photo.colour import rgb_to_ycbcr, ycbcr_to_rgb
from edgephoto.runtime.refine import box_mean, guided_filter, guided_upsample, resize
from edgephoto.runtime.tasks import TASKS
from edgephoto.runtime.tasks.common import fit_to_input, unfit
from edgephoto.runtime.tasks.face import decode, ssd_anchors, weighted_nms
from edgephoto.runtime.tasks.upscale import upscale
from edgephoto.runtime.tiling import crop
from shared_dir import DATA

RNG = np.random.default_rng(3)


def test_every_task_is_registered() -> None:
    assert set(TASKS.names()) == {"upscale", "depth", "segmentation", "matting", "face_detection", "face_landmarks"}


def _facts(name: str, shape: list[Any], out: str, out_shape: list[Any], color: str = "RGB", tile: int = 16,
           overlap: int = 4, field: int = 5, scale: int = 2) -> dict[str, Any]:
    norm = {"mean": [0.0], "std": [255.0], "color": color}
    return {
        "task": "upscale", "scale": scale,
        "inputs": [{"name": name, "shape": shape, "dtype": "float32", "layout": "NCHW", "normalization": norm}],
        "outputs": [{"name": out, "shape": out_shape, "dtype": "float32", "layout": "NCHW", "normalization": norm}],
        "tile": {"mode": "tile", "tile": tile, "overlap": overlap, "receptive_field": field},
    }


@pytest.fixture(scope="module")
def tiny_upscaler(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared tiny x2 network (two 3x3 convs: receptive field 5) as a dynamic-size ONNX file."""
    pytest.importorskip("onnx")
    from tests.runtime.tiny_backend_models import onnx_model, weights

    return onnx_model(tmp_path_factory.mktemp("tiny") / "tiny.onnx", weights(), dynamic=True)


def test_upscale_tiled_equals_untiled_with_the_reference_backend(tiny_upscaler: Path) -> None:
    from edgephoto.runtime.backends.base import load_backend

    backend = load_backend("reference", tiny_upscaler)
    facts = _facts("image", [1, 3, 16, 16], "out", [1, 3, 32, 32])
    rgb = RNG.integers(0, 256, (37, 29, 3), dtype=np.uint8)
    tiled = upscale(backend, facts, rgb, batch=3)
    padded = crop(rgb, -4, -4, 37 + 8, 29 + 8).astype(np.float32) / 255.0
    whole = backend.run({"image": padded.transpose(2, 0, 1)[None]})["out"][0].transpose(1, 2, 0)
    expected = np.clip(np.rint(whole[8:-8, 8:-8] * 255.0), 0, 255)
    assert tiled is not None and tiled.shape == (74, 58, 3)
    diff = np.abs(tiled.astype(int) - expected)
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3


def test_open_size_models_run_the_whole_photo_unpadded_within_budget(tiny_upscaler: Path) -> None:
    from edgephoto.runtime.backends.base import load_backend

    backend = load_backend("reference", tiny_upscaler)
    facts = _facts("image", [1, 3, None, None], "out", [1, 3, None, None])
    rgb = RNG.integers(0, 256, (37, 29, 3), dtype=np.uint8)
    calls: list[tuple[int, ...]] = []
    out = upscale(backend, facts, rgb, progress=lambda done, total: calls.append((done, total)))
    plain = backend.run({"image": (rgb.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]})["out"][0]
    expected = np.clip(np.rint(plain.transpose(1, 2, 0) * 255.0), 0, 255)
    assert calls == [(1, 1)] and out is not None and np.abs(out.astype(int) - expected).max() <= 1
    # past the budget: even tiles, blended to the reflect-padded untiled result
    tiled = upscale(backend, facts, rgb, budget_bytes=37 * 29 * 4 * (3 + 128 + 12) // 3)
    padded = crop(rgb, -4, -4, 37 + 8, 29 + 8).astype(np.float32) / 255.0
    whole = backend.run({"image": padded.transpose(2, 0, 1)[None]})["out"][0].transpose(1, 2, 0)
    reference = np.clip(np.rint(whole[8:-8, 8:-8] * 255.0), 0, 255)
    assert tiled is not None and np.abs(tiled.astype(int) - reference).max() <= 1


def test_fixed_batch_models_get_padded_batches(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    from tests.runtime.tiny_backend_models import onnx_model, weights

    from edgephoto.runtime.backends.base import load_backend

    backend = load_backend("reference", onnx_model(tmp_path / "fixed.onnx", weights()))
    facts = _facts("image", [1, 3, 8, 8], "out", [1, 3, 16, 16], overlap=1, field=5)
    rgb = RNG.integers(0, 256, (20, 13, 3), dtype=np.uint8)
    one, three = upscale(backend, facts, rgb, batch=1), upscale(backend, facts, rgb, batch=3)
    np.testing.assert_array_equal(one, three)


def test_luma_models_upscale_y_and_resize_chroma(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    from edgephoto.runtime.backends.base import load_backend

    nodes = [helper.make_node("Conv", ["y", "w"], ["c"]),
             helper.make_node("DepthToSpace", ["c"], ["out"], blocksize=2, mode="DCR")]
    graph = helper.make_graph(
        nodes, "nearest_luma",
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1, "H", "W"])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 1, "H2", "W2"])],
        [numpy_helper.from_array(np.ones((4, 1, 1, 1), np.float32), "w")],
    )
    path = tmp_path / "luma.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path)
    facts = _facts("y", [1, 1, 16, 16], "out", [1, 1, 32, 32], color="Y", field=1)
    rgb = RNG.integers(0, 256, (23, 41, 3), dtype=np.uint8)
    out = upscale(load_backend("reference", path), facts, rgb, batch=2)
    ycc = rgb_to_ycbcr(rgb)
    y = np.repeat(np.repeat(ycc[..., 0], 2, 0), 2, 1)
    chroma = [resize(ycc[..., c], (46, 82), "bicubic") for c in (1, 2)]
    expected = np.clip(np.rint(ycbcr_to_rgb(np.stack([y, *chroma], -1))), 0, 255)
    assert out is not None and np.abs(out.astype(int) - expected).max() <= 1


def test_ycbcr_round_trip() -> None:
    rgb = RNG.integers(0, 256, (50, 3)).astype(np.float32)
    np.testing.assert_allclose(ycbcr_to_rgb(rgb_to_ycbcr(rgb)), rgb, atol=0.02)


def test_letterbox_round_trip_keeps_the_content_box() -> None:
    rgb = RNG.integers(0, 256, (60, 150, 3), dtype=np.uint8)
    fitted, placement = fit_to_input(rgb, (128, 128), "letterbox")
    assert placement.box == (38, 0, 51, 128) and fitted[:38].max() == 0
    assert unfit(fitted, placement, (128, 128)).shape[:2] == (51, 128)


# ---- guided filter -------------------------------------------------------------------------

def test_box_mean_matches_brute_force() -> None:
    x = RNG.uniform(size=(13, 9))
    r = 2
    brute = np.array([[x[max(i - r, 0):i + r + 1, max(j - r, 0):j + r + 1].mean() for j in range(9)] for i in range(13)])
    np.testing.assert_allclose(box_mean(x, r), brute, atol=1e-12)


def test_guided_filter_keeps_a_constant_and_follows_the_guide() -> None:
    guide = RNG.uniform(size=(40, 40))
    np.testing.assert_allclose(guided_filter(guide, np.full((40, 40), 0.3), 3, 1e-3), 0.3, atol=1e-6)
    # a source that is a linear function of the guide passes through (eps -> 0)
    np.testing.assert_allclose(guided_filter(guide, 2 * guide + 0.1, 3, 1e-8), 2 * guide + 0.1, atol=1e-4)


def test_guided_upsampling_keeps_a_sharp_edge_better_than_bilinear() -> None:
    yy, xx = np.mgrid[0:256, 0:256]
    alpha = ((xx - 128) ** 2 + (yy - 128) ** 2 < 70**2 + 20 * np.sin(xx / 5.0) * 70).astype(np.float32)
    photo = np.stack([alpha * 200 + 30, alpha * 60 + 90, 180 - alpha * 120], -1)
    photo = np.clip(photo + RNG.normal(0, 3, photo.shape), 0, 255).astype(np.uint8)
    low = resize(alpha, (32, 32), "area")
    bilinear = np.clip(resize(low, (256, 256), "bilinear"), 0, 1)
    guided = guided_upsample(photo, low)
    # mass (SAD) is conserved on a hard step; what changes is where the edge is and how steep
    assert metrics.gradient_error(guided, alpha) < 0.5 * metrics.gradient_error(bilinear, alpha)
    assert metrics.boundary_f(guided > 0.5, alpha > 0.5, 1) > metrics.boundary_f(bilinear > 0.5, alpha > 0.5, 1) + 0.1
    assert metrics.iou(guided > 0.5, alpha > 0.5) > 0.99 > metrics.iou(bilinear > 0.5, alpha > 0.5)


@pytest.mark.shared("data/matting")
def test_guided_upsampling_beats_bilinear_on_the_lemur_alpha() -> None:
    rgb = np.asarray(Image.open(DATA / "matting" / "lemur.png").convert("RGB"))
    alpha = np.asarray(Image.open(DATA / "matting" / "lemur_alpha.png"), np.float32) / 255.0
    h, w = alpha.shape
    low = resize(alpha, (h // 8, w // 8), "area")
    bilinear = np.clip(resize(low, (h, w), "bilinear"), 0, 1)
    guided = guided_upsample(rgb, low)
    sad_b, sad_g = metrics.sad(bilinear, alpha), metrics.sad(guided, alpha)
    assert sad_g < 0.95 * sad_b, (sad_g, sad_b)


# ---- faces (synthetic decode) ---------------------------------------------------------------

def test_blazeface_anchor_layout() -> None:
    anchors = ssd_anchors()
    assert anchors.shape == (896, 2)
    np.testing.assert_allclose(anchors[0], [0.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(anchors[512], [0.5 / 8, 0.5 / 8])
    assert np.all(anchors[512:518] == anchors[512]) and not np.all(anchors[518] == anchors[512])


def test_decode_and_weighted_nms_merge_one_face() -> None:
    anchors = ssd_anchors()
    regress = np.zeros((896, 16), np.float32)
    logits = np.full((896, 1), -10.0, np.float32)
    target = np.array([0.40, 0.50])  # face centre in 0..1
    near = np.argsort(np.abs(anchors - target).sum(1))[:5]
    for k, i in enumerate(near):
        offset = (target - anchors[i]) * 128
        regress[i, :4] = [offset[0] + k * 0.5, offset[1], 40, 48]  # slightly different boxes
        regress[i, 4:] = np.tile(offset, 6)
        logits[i] = 2.0 + k
    boxes, points, scores = decode(regress, logits, anchors, 128, 0.5)
    faces = weighted_nms(boxes, points, scores)
    assert len(faces) == 1
    box, kps, score = faces[0]
    np.testing.assert_allclose((box[0] + box[2]) / 2, 0.40, atol=0.01)
    np.testing.assert_allclose(box[3] - box[1], 48 / 128, atol=1e-5)
    np.testing.assert_allclose(kps[:, 1], 0.5, atol=1e-5)
    assert score == pytest.approx(1 / (1 + np.exp(-6.0)))


# ---- real zoo models -------------------------------------------------------------------------

def _litert(path: Path) -> Any:
    pytest.importorskip("ai_edge_litert")
    from edgephoto.runtime.backends.base import load_backend

    return load_backend("litert", path, threads=1)


@pytest.mark.real
def test_blazeface_and_facemesh_on_the_astronaut(zoo_weights: Any) -> None:
    rgb = np.asarray(Image.open(sample_path("astronaut")).convert("RGB"))
    spec, root = zoo_weights("blazeface")
    faces = TASKS.get("face_detection").run(_litert(root / spec.files[0].path), spec, rgb)
    assert len(faces) == 1 and faces[0].score > 0.8
    x0, y0, x1, y1 = faces[0].box
    assert 150 < x0 < x1 < 300 and 50 < y0 < y1 < 200  # Eileen Collins' face, top centre
    right_eye, left_eye = faces[0].keypoints[:2]
    assert right_eye[0] < left_eye[0] and abs(right_eye[1] - left_eye[1]) < 15
    spec, root = zoo_weights("facemesh")
    marks = TASKS.get("face_landmarks").run(_litert(root / spec.files[0].path), spec, rgb, faces[0])
    assert marks.points.shape == (468, 3) and marks.presence > 0.9
    inside = (marks.points[:, 0] > x0 - 10) & (marks.points[:, 0] < x1 + 10) & (marks.points[:, 1] > y0 - 15) & (marks.points[:, 1] < y1 + 10)
    assert inside.mean() > 0.95


@pytest.mark.real
@pytest.mark.shared("data/portraits")
def test_selfie_segmentation_on_portraits(zoo_weights: Any) -> None:
    spec, root = zoo_weights("selfie-landscape")
    backend = _litert(root / spec.files[0].path)
    ious = []
    for i in range(1, 9):
        rgb = np.asarray(Image.open(DATA / "portraits" / "images" / f"{i}.jpg").convert("RGB"))
        truth = Image.open(DATA / "portraits" / "masks" / f"{i}.png").convert("L")
        truth_mask = np.asarray(truth.resize(rgb.shape[1::-1], Image.Resampling.NEAREST)) > 127
        mask = TASKS.get("segmentation").run(backend, spec, rgb)
        assert mask.shape == rgb.shape[:2] and mask.dtype == np.float32 and 0 <= mask.min() <= mask.max() <= 1
        ious.append(metrics.iou(mask > 0.5, truth_mask))
    assert np.mean(ious) > 0.88, ious  # MediaPipe's own landscape pipeline: 0.910 on 1-150


@pytest.mark.real
def test_fastdepth_tiles_align_to_the_global_pass(zoo_weights: Any) -> None:
    import skimage

    data = Path(skimage.__file__).parent / "data"
    rgb = np.asarray(Image.open(data / "motorcycle_left.png").convert("RGB"))
    disparity = np.load(data / "motorcycle_disp.npz")["arr_0"]
    spec, root = zoo_weights("fastdepth")
    backend = _litert(root / spec.files[0].path)
    facts = spec.to_dict()  # no quantization in these facts: the engine's TensorInfo carries it
    assert facts["outputs"][0].get("quantization") is None
    scale, zero = backend.interpreter.get_output_details()[0]["quantization"]
    assert backend.outputs()[0].quantization == (pytest.approx(scale), zero)
    result = TASKS.get("depth").run(backend, facts, rgb, detail=2.0)
    assert result.depth.shape == rgb.shape[:2] and len(result.tiles) > 4
    assert 0.5 < float(np.median(result.depth)) < 10  # metres, not raw uint8 codes
    assert np.mean([t["rmse_aligned"] <= t["rmse_raw"] + 1e-6 for t in result.tiles]) == 1.0
    assert np.corrcoef(result.depth.ravel(), result.global_depth.ravel())[0, 1] > 0.9
    valid = np.isfinite(disparity) & (disparity > 0)
    assert metrics.spearman(-result.depth[valid], disparity[valid]) > 0.7
