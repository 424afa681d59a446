"""Golden pixels: a real photo crop through pre-processing, and fixed model outputs through
segmentation, depth and upscale post-processing, by the runtime's own task functions."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from edgephoto.runtime.backends.base import TensorInfo
from edgephoto.runtime.effects import normalize_depth
from edgephoto.runtime.golden.formula import FormulaBackend, encode
from edgephoto.runtime.image_io import read_photo, sample_path
from edgephoto.runtime.tasks.common import ModelFacts, fit_to_input, model_input
from edgephoto.runtime.tasks.depth import estimate_depth
from edgephoto.runtime.tasks.segmentation import (
    ZoomPolicy,
    fit_photo,
    low_res_mask,
    output_mask,
    segment,
    upsample_mask,
    zoom_regions,
)
from edgephoto.runtime.tasks.upscale import planes_to_uint8, upscale, ycbcr_planes
from edgephoto.zoo import get_model

SAMPLE = "astronaut"
CROP = (40, 176, 48, 64)  # y, x, h, w of the sample photo (her face and hair)
SMALL = (18, 20, 12, 16)  # y, x, h, w inside CROP
# (size h, w, mode, sampled[, source 'crop' | 'small'])
FITS: tuple[tuple[int, int, str, bool, str], ...] = (
    (24, 32, "stretch", False, "crop"), (30, 40, "stretch", False, "crop"), (11, 13, "stretch", False, "crop"),
    (20, 25, "stretch", True, "crop"), (24, 24, "letterbox", False, "crop"), (16, 24, "letterbox", True, "crop"),
    (21, 29, "stretch", False, "small"),
)
INPUT_MODELS = ("selfie", "meet", "fastdepth", "fsrcnn-x2", "esrgan-slim-x2", "esrgan-thick-x4", "isnet", "blazeface")
GRID = 8  # sample photo model inputs: values at GRID x GRID positions


def _crops() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    photo = read_photo(sample_path(SAMPLE)).rgb
    y, x, h, w = CROP
    crop = np.ascontiguousarray(photo[y : y + h, x : x + w])
    sy, sx, sh, sw = SMALL
    return photo, crop, np.ascontiguousarray(crop[sy : sy + sh, sx : sx + sw])


def _grid(values: np.ndarray) -> dict[str, Any]:
    """NHWC or NCHW batch of one: channel means (float64) and values at GRID x GRID positions."""
    nhwc = values[0] if values.shape[-1] in (1, 3) else values[0].transpose(1, 2, 0)
    h, w = nhwc.shape[:2]
    ys = [int(v) for v in np.linspace(0, h - 1, GRID).round()]
    xs = [int(v) for v in np.linspace(0, w - 1, GRID).round()]
    return {"shape": list(values.shape), "ys": ys, "xs": xs,
            "channel_mean": [float(m) for m in nhwc.reshape(-1, nhwc.shape[2]).astype(np.float64).mean(axis=0)],
            "samples": encode(nhwc[np.ix_(ys, xs)])}


def preprocess() -> dict[str, Any]:
    photo, crop, small = _crops()
    fits = []
    for h, w, mode, sampled, source in FITS:
        fitted, placement = fit_to_input(small if source == "small" else crop, (h, w), mode, sampled=sampled)
        fits.append({"source": source, "size_hw": [h, w], "mode": mode, "sampled": sampled,
                     "box": list(placement.box), "fitted": encode(fitted)})
    inputs = []
    for name in INPUT_MODELS:
        tensor = get_model(name).inputs[0]
        norm = tensor.normalization
        inputs.append({"model": name, "name": tensor.name, "dtype": tensor.dtype, "layout": tensor.layout,
                       "normalization": {"mean": list(norm.mean), "std": list(norm.std), "color": norm.color}
                       if norm else None,
                       "values": encode(model_input(small.astype(np.float32), tensor))})
    selfie = ModelFacts.load(get_model("selfie"))
    fitted, _, _ = fit_photo(selfie, photo)
    depth = get_model("fastdepth")
    depth_fit, _ = fit_to_input(photo, depth.inputs[0].hw, "stretch")
    return {
        "schema": "edgephoto.golden.preprocess/1",
        "photo": {"sample": SAMPLE, "crop_yxhw": list(CROP), "pixels": encode(crop)},
        "small": {"crop_yxhw_in_photo_crop": list(SMALL), "pixels": encode(small)},
        "fits": fits,
        "model_inputs": inputs,
        "sample_photo": {
            "sample": SAMPLE, "photo_hw": list(photo.shape[:2]),
            "channel_mean": [float(m) for m in photo.reshape(-1, 3).astype(np.float64).mean(axis=0)],
            "selfie": _grid(model_input(fitted, get_model("selfie").inputs[0])),
            "fastdepth": _grid(model_input(depth_fit, depth.inputs[0])),
        },
    }


def _low(shape: tuple[int, int, int]) -> np.ndarray:
    """Fixed segmentation outputs: channel c at (i, j) = ((5*i + 3*j + 4*c) % 13) / 10 - 0.1."""
    i, j, c = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    return (((5 * i + 3 * j + 4 * c) % 13) / 10.0 - 0.1).astype(np.float32)


def _segmentation() -> list[dict[str, Any]]:
    cases = []
    # (model, photo h, w, fit mode)
    for name, ph, pw, mode in (("selfie", 24, 40, "letterbox"), ("selfie", 33, 21, "stretch"),
                               ("meet", 23, 41, "stretch"), ("selfie", 4, 5, "stretch")):
        facts = ModelFacts.load(get_model(name))
        in_h, in_w = facts.input.hw
        assert in_h is not None and in_w is not None
        small_hw = (9, 12) if name == "selfie" else (9, 16)  # the model output, shrunk for the vectors
        out = _low((*small_hw, facts.output().channels or 1))
        _, placement = fit_to_input(np.zeros((ph, pw, 3), np.uint8), small_hw, mode)
        low = output_mask(facts, out, placement, small_hw)
        full = upsample_mask(np.zeros((ph, pw, 3), np.uint8), low)
        cases.append({"model": name, "photo_hw": [ph, pw], "fit": mode, "output": encode(out),
                      "foreground_channel": int(facts.extra.get("foreground_channel", 1)),
                      "box": list(placement.box), "low": encode(low), "probability": encode(full),
                      "mask": encode(full > 0.5)})
    return cases


ZOOM_FACTS = {
    "task": "segmentation",
    "inputs": [{"name": "input", "shape": [1, 16, 16, 3], "layout": "NHWC",
                "normalization": {"mean": [0.0], "std": [255.0], "color": "RGB"}}],
    "outputs": [{"name": "output", "shape": [1, 16, 16, 1], "layout": "NHWC"}],
    "tile": {"mode": "whole", "tile": 16}, "extra": {"fit": "stretch"},
}
# (photo h, w, [(y0, x0, y1, x1, grey)] bright 'people' on black): one small person; two apart
# (a crop each, the larger first); one large person (no second pass)
ZOOM_PHOTOS = ((36, 54, ((8, 24, 28, 31, 230),)),
               (36, 54, ((7, 5, 29, 12, 230), (18, 38, 32, 44, 200))),
               (24, 30, ((1, 2, 23, 28, 220),)))
ZOOM_MARGIN = 0.02  # no first-pass low value this close to the 0.5 threshold: boxes are port-exact


def _zoom() -> list[dict[str, Any]]:
    """segment(zoom=True) with the 'segment' formula model on synthetic photos: boxes, crops and
    the fused probability, so a port checks its whole second-pass path."""
    facts = ModelFacts.load(ZOOM_FACTS)
    backend = FormulaBackend("segment", [TensorInfo("input", (1, 16, 16, 3), "float32")],
                             [TensorInfo("output", (1, 16, 16, 1), "float32")])
    policy = ZoomPolicy()
    cases = []
    for height, width, people in ZOOM_PHOTOS:
        photo = np.zeros((height, width, 3), np.uint8)
        for y0, x0, y1, x1, grey in people:
            photo[y0:y1, x0:x1] = grey
        low = low_res_mask(backend, facts, photo)
        assert np.abs(low - 0.5).min() > ZOOM_MARGIN, "a low value near the threshold: move a person"
        regions = zoom_regions(low, photo.shape[:2], policy)
        zoomed = segment(backend, facts, photo)
        cases.append({"photo_hw": [height, width], "people_yxyx_grey": [list(p) for p in people],
                      "low": encode(low), "regions_yxyx": [list(r) for r in regions],
                      "probability": encode(zoomed)})
    return cases


DEPTH_FACTS = {
    "task": "depth",
    "inputs": [{"name": "image", "shape": [1, 16, 16, 3], "dtype": "uint8", "layout": "NHWC",
                "normalization": {"mean": [0.0], "std": [1.0], "color": "RGB"}}],
    "outputs": [{"name": "depth", "shape": [1, 16, 16, 1], "dtype": "float32", "layout": "NHWC"}],
    "tile": {"mode": "tile", "tile": 16, "overlap": 4, "receptive_field": 16},
}
UPSCALE_RGB_FACTS = {
    "task": "upscale", "scale": 2,
    "inputs": [{"name": "input", "shape": [1, 16, 16, 3], "layout": "NHWC",
                "normalization": {"mean": [0.0], "std": [1.0], "color": "RGB"}}],
    "outputs": [{"name": "output", "shape": [1, 32, 32, 3], "layout": "NHWC",
                 "normalization": {"mean": [0.0], "std": [1.0], "color": "RGB"}}],
    "tile": {"mode": "tile", "tile": 16, "overlap": 3, "receptive_field": 5},
}


def _depth(crop: np.ndarray) -> list[dict[str, Any]]:
    facts = ModelFacts.load(DEPTH_FACTS)
    backend = FormulaBackend("depth", [TensorInfo("image", (1, 16, 16, 3), "uint8")],
                             [TensorInfo("depth", (1, 16, 16, 1), "float32")])
    cases = []
    for detail, fit in ((1.0, "stretch"), (2.0, "stretch"), (1.0, "letterbox")):
        photo = crop[:24, :20]
        result = estimate_depth(backend, facts, photo, detail=detail, fit=fit)
        cases.append({"facts": DEPTH_FACTS, "photo": "preprocess.json photo.pixels rows 0..23, cols 0..19",
                      "detail": detail, "fit": fit, "depth": encode(result.depth),
                      "global_depth": encode(result.global_depth), "tiles": result.tiles,
                      "normalized": encode(normalize_depth(result.depth))})
    return cases


def _upscale(crop: np.ndarray) -> list[dict[str, Any]]:
    photo = np.ascontiguousarray(crop[:20, :27])
    luma = ModelFacts.load(get_model("fsrcnn-x2"))
    luma_backend = FormulaBackend("upscale", [TensorInfo("IteratorGetNext", (1, None, None, 1), "float32")],
                                  [TensorInfo("NHWC_output", (1, None, None, 1), "float32")], scale=2)
    rgb_facts = ModelFacts.load(UPSCALE_RGB_FACTS)
    rgb_backend = FormulaBackend("upscale", [TensorInfo("input", (1, 16, 16, 3), "float32")],
                                 [TensorInfo("output", (1, 32, 32, 3), "float32")], scale=2)
    cases = []
    for label, backend, facts, spec in (("fsrcnn-x2", luma_backend, luma, None),
                                        ("rgb-tiled", rgb_backend, rgb_facts, UPSCALE_RGB_FACTS)):
        out = upscale(backend, facts, photo)
        assert out is not None
        cases.append({"model": label, "facts": spec, "photo": "preprocess.json photo.pixels rows 0..19, cols 0..26",
                      "upscaled": encode(out)})
    return cases


UPSCALE_LUMA_TILED_FACTS = {
    "task": "upscale", "scale": 2,
    "inputs": [{"name": "y", "shape": [1, None, None, 1], "layout": "NHWC",
                "normalization": {"mean": [0.0], "std": [255.0], "color": "Y"}}],
    "outputs": [{"name": "y2", "shape": [1, None, None, 1], "layout": "NHWC",
                 "normalization": {"mean": [0.0], "std": [255.0], "color": "Y"}}],
    "tile": {"mode": "tile", "tile": 16, "overlap": 3, "receptive_field": 5},
}
LUMA_BUDGET = 532 * 300  # bytes: 300 px per engine call for this model, so the 24x32 photo is tiled


def _upscale_luma_tiled(crop: np.ndarray) -> dict[str, Any]:
    """A luma model with open H/W past its memory budget: even tiles, chroma strips per band."""
    photo = np.ascontiguousarray(crop[:24, :32])
    facts = ModelFacts.load(UPSCALE_LUMA_TILED_FACTS)
    backend = FormulaBackend("upscale", [TensorInfo("y", (1, None, None, 1), "float32")],
                             [TensorInfo("y2", (1, None, None, 1), "float32")], scale=2)
    out = upscale(backend, facts, photo, budget_bytes=LUMA_BUDGET)
    assert out is not None
    return {"facts": UPSCALE_LUMA_TILED_FACTS, "budget_bytes": LUMA_BUDGET,
            "photo": "preprocess.json photo.pixels rows 0..23, cols 0..31", "upscaled": encode(out)}


def postprocess() -> dict[str, Any]:
    _, crop, small = _crops()
    y, cb, cr = ycbcr_planes(small)
    return {
        "schema": "edgephoto.golden.postprocess/1",
        "segmentation": _segmentation(),
        "zoom": {"facts": ZOOM_FACTS, "policy": dataclasses.asdict(ZoomPolicy()), "cases": _zoom()},
        "depth": _depth(crop),
        "upscale": _upscale(crop),
        "upscale_luma_tiled": _upscale_luma_tiled(crop),
        "ycbcr": {"source": "preprocess.json small.pixels", "y": encode(y), "cb": encode(cb), "cr": encode(cr),
                  "back_to_rgb": encode(planes_to_uint8(y, cb, cr))},
    }
