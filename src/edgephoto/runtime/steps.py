"""The pipeline's steps, one function each, registered with the steps they need.

A step reads and updates the Context (current image, depth, mask, matte), writes its outputs
through Context.write (atomic, never over an input) and returns its parameters for the summary.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from edgephoto.errors import InvalidOptionError
from edgephoto.runtime import effects, photo
from edgephoto.runtime.image_io import read_photo
from edgephoto.runtime.pipeline import Context, describe_model, step


def _grey_map(values: np.ndarray, *, invert: bool = False) -> np.ndarray:
    lo, hi = np.percentile(values, [1.0, 99.0])
    unit = np.clip((values - lo) / max(hi - lo, 1e-9), 0, 1)
    return np.rint((1.0 - unit if invert else unit) * 255).astype(np.uint8)


@step("exif", description="record capture facts (orientation is applied on read)")
def _exif(ctx: Context) -> dict[str, Any]:
    return {"orientation_applied": ctx.photo.exif.get("orientation"), **photo.capture_conditions(ctx.photo.exif)}


@step("denoise", description="edge-preserving denoise set by measured noise and EXIF ISO")
def _denoise(ctx: Context) -> dict[str, Any]:
    ctx.image, params = photo.denoise(ctx.image, iso=ctx.photo.exif.get("iso"), **ctx.opt("denoise"))
    ctx.enhanced.append("denoise")
    return params


@step("wb", description="white balance in CIE LAB (bounded a*/b* shift)")
def _wb(ctx: Context) -> dict[str, Any]:
    ctx.image, params = photo.white_balance(ctx.image, **ctx.opt("wb"))
    ctx.enhanced.append("wb")
    return params


@step("tone", description="histogram tone curve: lift crushed shadows, recover highlights")
def _tone(ctx: Context) -> dict[str, Any]:
    ctx.image, params = photo.tone_curve(ctx.image, **ctx.opt("tone"))
    ctx.enhanced.append("tone")
    return params


@step("depth", description="depth map (model), written as a grey PNG, near = bright")
def _depth(ctx: Context) -> dict[str, Any]:
    result, model = ctx.models.run(ctx, "depth", "depth", **ctx.opt("depth"))
    ctx.models_used["depth"] = model
    ctx.depth = np.asarray(result.depth, np.float32)
    ctx.depth_far_is_larger = True  # the depth task returns depth (metres for FastDepth)
    ctx.write("depth", "depth.png", _grey_map(ctx.depth, invert=True))
    return {"range": [round(float(ctx.depth.min()), 4), round(float(ctx.depth.max()), 4)],
            "tiles": len(result.tiles)}


@step("segment", description="person mask (model, guided-filter refined, zoomed in on a small person)")
def _segment(ctx: Context) -> dict[str, Any]:
    # The pipeline keeps the guided filter that segment() now leaves off by default: its mask
    # feeds visible edges (bokeh, relight) and the matte step reuses it as a soft alpha. Zoom is
    # segment()'s default here too: with the filter, IoU 0.9248 vs 0.9183 on the 150 portraits,
    # and a large person's call unchanged (benchmarks/results/person_zoom.md).
    options = {"refine": True, **ctx.opt("segment")}
    mask, model = ctx.models.run(ctx, "segmentation", "segmentation", **options)
    ctx.models_used["segment"] = model
    ctx.mask = np.clip(np.asarray(mask, np.float32), 0, 1)
    ctx.write("mask", "mask.png", np.rint(ctx.mask * 255).astype(np.uint8))
    zoom = options.get("zoom", True)
    return {"person_fraction": round(float((ctx.mask > 0.5).mean()), 4),
            "zoom": zoom if isinstance(zoom, bool) else dataclasses.asdict(zoom)}


@step("matte", description="soft alpha matte (matting model, else the segmentation model refined)")
def _matte(ctx: Context) -> dict[str, Any]:
    role = "matting" if ctx.models.path("matting") is not None else "segmentation"
    refined = ctx.opt("segment").get("refine", True)
    if role == "segmentation" and ctx.mask is not None and refined and not ctx.opt("matte"):
        # Same model, same guided refinement as the segment step: reuse instead of re-running
        # (with the segment step's zoom-in on a small person, the better alpha for a person).
        alpha, model = ctx.mask, {**ctx.models_used["segment"], "reused_from": "segment"}
    else:
        alpha, model = ctx.models.run(ctx, role, "matting", **ctx.opt("matte"))
    ctx.models_used["matte"] = model
    ctx.matte = np.clip(np.asarray(alpha, np.float32), 0, 1)
    ctx.write("matte", "matte.png", np.rint(ctx.matte * 255).astype(np.uint8))
    soft = float(((ctx.matte > 0.02) & (ctx.matte < 0.98)).mean())
    return {"from": role, "foreground_fraction": round(float(ctx.matte.mean()), 4), "soft_fraction": round(soft, 4)}


@step("faces", description="face boxes and keypoints (+ 468 landmarks if a landmark artifact is there)")
def _faces(ctx: Context) -> dict[str, Any]:
    faces, model = ctx.models.run(ctx, "face_detection", "face_detection", **ctx.opt("faces"))
    ctx.models_used["faces"] = model
    listed = [{"box": [round(float(v), 1) for v in f.box], "score": round(float(f.score), 4),
               "keypoints": np.round(np.asarray(f.keypoints), 1).tolist()} for f in faces]
    ctx.faces = [(face, None) for face in faces]
    if faces and ctx.models.get("face_landmarks", required=False) is not None:
        ctx.faces = [(face, _landmarks(ctx, face)) for face in faces]
        for entry, (_, marks) in zip(listed, ctx.faces, strict=True):
            entry["landmarks_presence"] = round(float(marks.presence), 4)
            entry["landmarks"] = np.round(np.asarray(marks.points)[:, :2], 1).tolist()
    return {"count": len(faces), "faces": listed}


def _landmarks(ctx: Context, face: Any) -> Any:
    """FaceMesh's 468 points of one face (the face_landmarks artifact is required here)."""
    from edgephoto.runtime.tasks import TASKS

    backend, manifest, path = ctx.models.get("face_landmarks")  # type: ignore[misc]
    ctx.models_used["face_landmarks"] = describe_model(backend, manifest, path)
    return TASKS.get("face_landmarks").run(backend, manifest, ctx.image, face)


@step("retouch", needs=("faces",), description="face-aware retouch from 68 landmarks: skin smoothing that keeps "
                                              "pores, teeth brightening, eye sharpening")
def _retouch(ctx: Context) -> dict[str, Any]:
    from edgephoto.runtime import retouch
    from edgephoto.runtime.face_regions import landmarks_68

    options = ctx.opt("retouch")
    min_presence = float(options.pop("min_presence", 0.5))
    settings = retouch.check_settings(options)
    found = [(face, marks if marks is not None else _landmarks(ctx, face)) for face, marks in ctx.faces or []]
    # BlazeFace fires on some faces FaceMesh then rejects (a hand, a profile): presence says so.
    kept = [marks for _, marks in found if marks.presence >= min_presence]
    before = ctx.image
    if kept:
        ctx.image, params = retouch.retouch(before, [landmarks_68(m.points) for m in kept], person=ctx.mask,
                                            **settings)
    else:  # nothing to retouch is an outcome, not an error: the photo goes on unchanged
        params = {**settings, "person_mask": ctx.mask is not None, "faces": []}
    params.update(faces_detected=len(found), faces_retouched=len(kept), min_presence=min_presence)
    if not kept:
        params["note"] = "no face with landmarks found: image passed through unchanged"
    ctx.write("retouch", "retouched.jpg", ctx.image, quality=95)
    ctx.write("retouch_before_after", "retouch_before_after.jpg",
              retouch.before_after(before, ctx.image, [f["box"] for f in params["faces"]]), quality=92)
    return params


@step("upscale2", description="2x super-resolution (model, tiled), written as PNG")
def _upscale2(ctx: Context) -> dict[str, Any]:
    loaded = ctx.models.get("upscale2")
    assert loaded is not None
    if int(loaded[1].get("scale", 0)) != 2:
        raise InvalidOptionError(f"the upscale2 artifact {loaded[2]} is a x{loaded[1].get('scale')} model, not x2")
    out, model = ctx.models.run(ctx, "upscale2", "upscale", **ctx.opt("upscale2"))
    ctx.models_used["upscale2"] = model
    ctx.write("upscale2", "x2.png", out)
    return {"size": [int(out.shape[1]), int(out.shape[0])]}


@step("upscale", description="super-resolution by any factor (--scale N, default 2): model pass(es), "
                             "then an exact-size LANCZOS resample, written as PNG")
def _upscale(ctx: Context) -> dict[str, Any]:
    """The chain runtime/scale_chain.py plans (options scale, model, passes; the rest go to the
    upscale task); each pass is the tiled upscale task on the artifact of role upscale{s}, so
    artifacts are found and built as for upscale2."""
    from PIL import Image

    from edgephoto.runtime.scale_chain import chain_models, plan_chain, scale_label
    from edgephoto.runtime.tasks import TASKS
    from edgephoto.tasks import role_of

    options = ctx.opt("upscale")
    named = options.pop("model", None)
    height, width = ctx.image.shape[:2]
    chain = plan_chain(options.pop("scale", 2), width, height, chain_models(named),
                       max_passes=options.pop("passes", 1))
    image = ctx.image
    for stage in chain.passes:
        role = role_of("upscale", stage.scale)
        loaded = ctx.models.get(role)
        assert loaded is not None
        backend, manifest, path = loaded
        if int(manifest.get("scale", 0)) != stage.scale or (named and manifest.get("model") != named):
            raise InvalidOptionError(f"the {role} artifact {path} is {manifest.get('model')} "
                                     f"x{manifest.get('scale')}, not {stage.model} x{stage.scale}")
        image = TASKS.get("upscale").run(backend, manifest, image, **options)
        first = role_of("upscale", chain.passes[0].scale)
        ctx.models_used.setdefault("upscale" if role == first else f"upscale/{role}",
                                   describe_model(backend, manifest, path))
    if chain.resample is not None:
        image = np.asarray(Image.fromarray(image).resize(chain.size, Image.Resampling[chain.resample.upper()]))
    ctx.write("upscale", f"x{scale_label(chain.factor)}.png", image)
    return chain.describe()


def _subject(ctx: Context) -> np.ndarray | None:
    return ctx.matte if ctx.matte is not None else ctx.mask


@step("bokeh", needs=("depth", "segment"), description="background blur by depth, subject kept sharp")
def _bokeh(ctx: Context) -> dict[str, Any]:
    assert ctx.depth is not None
    out, params = effects.bokeh(ctx.image, ctx.depth, _subject(ctx),
                                larger_is_farther=ctx.depth_far_is_larger, **ctx.opt("bokeh"))
    ctx.write("bokeh", "bokeh.jpg", out)
    return params


@step("remove-bg", needs=("matte",), description="cut-out: RGBA PNG with the matte as alpha")
def _remove_bg(ctx: Context) -> dict[str, Any]:
    assert ctx.matte is not None
    rgba, params = effects.remove_background(ctx.image, ctx.matte)
    ctx.write("remove-bg", "cutout.png", rgba)
    return params


@step("replace-bg", needs=("matte",), description="composite onto a colour or an image (option background)")
def _replace_bg(ctx: Context) -> dict[str, Any]:
    assert ctx.matte is not None
    options = ctx.opt("replace-bg")
    background = options.pop("background", (235, 235, 235))
    if isinstance(background, str | Path):
        background = read_photo(background).rgb
    out, params = effects.replace_background(ctx.image, ctx.matte, background, **options)
    ctx.write("replace-bg", "replaced.jpg", out)
    return params


@step("relight", needs=("depth",), description="depth-graded light falloff and vignette")
def _relight(ctx: Context) -> dict[str, Any]:
    assert ctx.depth is not None
    out, params = effects.relight(ctx.image, ctx.depth, _subject(ctx),
                                  larger_is_farther=ctx.depth_far_is_larger, **ctx.opt("relight"))
    ctx.write("relight", "relit.jpg", out)
    return params
