"""Face-aware retouch from the 68 landmarks' regions: skin smoothing, teeth, eye sharpening.

Each edit is a change (delta) computed on a crop around one face and weighted by its feathered
region mask, so a pixel no region reaches is returned exactly as it came in, and strength 0
returns the input. Pure numpy and Pillow, like effects.py.

Skin: the guided filter (edge-preserving, so the jaw and nose edges stay) smooths the low
frequencies, blotches and uneven tone; the finest band (pores, fine hair) of the original is
added back at `texture`, because skin without it looks like plastic. Teeth: in CIE LAB, lift L
and pull b* (yellow) toward neutral, only for pixels inside the inner-lip contour that are
bright and low in chroma (teeth, not lips, tongue or the dark of the mouth). Eyes: an unsharp
mask on the lid contours grown to take in the lashes. Optionally (denoise > 0, off by default
as it reaches beyond the face), the photo's own measured-noise denoise, full strength on the
background and a quarter of it on the person.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from edgephoto.errors import InvalidOptionError
from edgephoto.runtime.face_regions import FaceRegions, face_regions
from edgephoto.runtime.photo.colour import lab_to_rgb, rgb_to_lab
from edgephoto.runtime.photo.filters import gaussian_blur, guided_filter
from edgephoto.runtime.photo.noise import denoise

DEFAULTS: dict[str, float] = {
    "strength": 1.0,  # scales every edit below; 0 returns the photo unchanged
    "skin": 0.8,  # how much of the smoothed skin replaces the original
    "texture": 0.6,  # fraction of the finest detail band (pores) kept in smoothed skin
    "teeth": 0.7,  # teeth brightening: 1 = +8 L and half the yellow (b*) removed
    "eyes": 0.6,  # unsharp-mask amount in the eye regions
    "denoise": 0.0,  # segmentation-guided denoise strength (needs the person mask); 0 = off
}
# Under the person mask denoise is applied at this fraction: hair and skin texture are the
# detail a portrait is about, while a flat background only shows the noise.
_SUBJECT_DENOISE = 0.25
_TEETH_LIFT, _TEETH_YELLOW = 8.0, 0.5


def _smoothstep(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = np.clip((x - lo) / max(hi - lo, 1e-6), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _fine_sigma(face_width: float) -> float:
    """The pore band: about a pixel on a 300-px-wide face, scaled with the face."""
    return max(0.8, face_width / 300.0)


def high_frequency_energy(image: np.ndarray, mask: np.ndarray, face_width: float) -> float:
    """Mean squared fine-band detail (image minus its blur at the pore scale) over mask > 0.5."""
    grey = image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    band = grey - gaussian_blur(grey, _fine_sigma(face_width))
    inside = mask > 0.5
    return float((band[inside] ** 2).mean()) if inside.any() else 0.0


def smooth_skin_delta(crop: np.ndarray, mask: np.ndarray, face_width: float, *, amount: float,
                      texture: float) -> np.ndarray:
    """(h, w, 3) change that smooths skin under `mask`, keeping `texture` of the pore band."""
    if amount <= 0:
        return np.zeros(crop.shape, np.float32)
    image = crop.astype(np.float32)
    radius = max(2, round(face_width * 0.03))
    # eps in (0..255)^2: variations below ~12 levels (blotches, shine) flatten; edges above stay.
    base = guided_filter(image @ np.array([0.299, 0.587, 0.114], np.float32), image, radius, 12.0**2)
    fine = _fine_sigma(face_width)
    smoothed = gaussian_blur(base, fine) + texture * (image - gaussian_blur(image, fine))
    return (smoothed - image) * (amount * mask)[..., None]


def teeth_weight(lab: np.ndarray, mouth: np.ndarray) -> np.ndarray:
    """Teeth likeness inside the inner-mouth mask: bright and near-neutral in LAB."""
    inside = mouth > 0.05
    if not inside.any():
        return np.zeros(mouth.shape, np.float32)
    light, chroma = lab[..., 0], np.hypot(lab[..., 1], lab[..., 2])
    # Brighter than the mouth's median (tongue, gums, shadow are darker) and at least L 45.
    lo = max(45.0, float(np.median(light[inside])))
    bright = _smoothstep(light, lo, lo + 12.0)
    neutral = 1.0 - _smoothstep(chroma, 16.0, 30.0)  # lips and gums sit at chroma 30+
    return (mouth * bright * neutral).astype(np.float32)


def teeth_delta(crop: np.ndarray, mouth: np.ndarray, *, amount: float) -> tuple[np.ndarray, float]:
    """(h, w, 3) change that whitens teeth, and the teeth area found (sum of weights, px)."""
    delta = np.zeros(crop.shape, np.float32)
    if amount <= 0:
        return delta, 0.0
    rows, cols = np.nonzero(mouth > 0)
    if rows.size == 0:
        return delta, 0.0
    r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    patch = crop[r0:r1, c0:c1]
    lab = rgb_to_lab(patch)
    weight = teeth_weight(lab, mouth[r0:r1, c0:c1]) * amount
    edited = lab.copy()
    edited[..., 0] += weight * _TEETH_LIFT * (100.0 - lab[..., 0]) / 50.0  # +LIFT at L 50, less toward white
    edited[..., 2] -= weight * _TEETH_YELLOW * np.clip(lab[..., 2], 0.0, None)
    changed = lab_to_rgb(edited).astype(np.float32) - patch.astype(np.float32)
    delta[r0:r1, c0:c1] = np.where(weight[..., None] > 0, changed, 0.0)
    return delta, float(weight.sum() / max(amount, 1e-9))


def sharpen_eyes_delta(crop: np.ndarray, eyes: np.ndarray, face_width: float, *, amount: float) -> np.ndarray:
    """(h, w, 3) unsharp-mask change inside the eye regions."""
    if amount <= 0:
        return np.zeros(crop.shape, np.float32)
    image = crop.astype(np.float32)
    detail = image - gaussian_blur(image, max(1.0, face_width / 250.0))
    return detail * (amount * eyes)[..., None]


def skin_likeness(rgb: np.ndarray, regions: FaceRegions, marks: np.ndarray) -> np.ndarray:
    """Photo-sized 0..1: how close each pixel's LAB colour is to the face's cheek colour.

    The oval reaches over the forehead, where fringe, hair or a hat may be; smoothing those
    would blur them, so the skin mask is also weighted by colour. The reference is the skin
    below the eyes (cheeks, nose, chin), which hair rarely covers."""
    y0, y1, x0, x1 = regions.box
    lab = rgb_to_lab(rgb[y0:y1, x0:x1])
    eye_line = float(np.asarray(marks)[36:48, 1].max()) - y0
    core = (regions.masks["skin"] > 0.9) & (np.arange(y1 - y0)[:, None] > eye_line)
    out = np.zeros(rgb.shape[:2], np.float32)
    if core.sum() < 50:
        out[y0:y1, x0:x1] = 1.0
        return out
    # Lightness counts half: shading moves L across a face far more than it moves a*/b*.
    colour = lab * np.array([0.5, 1.0, 1.0], np.float32)
    centre = np.median(colour[core], axis=0)
    spread = max(6.0, float(np.percentile(np.linalg.norm(colour[core] - centre, axis=1), 90)))
    distance = np.linalg.norm(colour - centre, axis=2)
    out[y0:y1, x0:x1] = 1.0 - _smoothstep(distance, spread, 2.5 * spread)
    return out


def regions_for(rgb: np.ndarray, marks: np.ndarray, *, person: np.ndarray | None = None) -> FaceRegions:
    """A face's regions with the skin also weighted by skin colour (what retouch edits)."""
    plain = face_regions(marks, rgb.shape[:2], person=person)
    return face_regions(marks, rgb.shape[:2], person=person, skin_only=skin_likeness(rgb, plain, marks))


def check_settings(given: dict[str, float]) -> dict[str, float]:
    """DEFAULTS updated by `given`; an unknown name lists the valid ones."""
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise InvalidOptionError(f"retouch: unknown option(s) {unknown}; choose from {sorted(DEFAULTS)}")
    return {**DEFAULTS, **{k: float(v) for k, v in given.items()}}


def retouch_face(rgb: np.ndarray, regions: FaceRegions, **settings: float) -> tuple[np.ndarray, dict[str, Any]]:
    """One face's edits on uint8 RGB; (uint8 RGB, what was done and measured)."""
    s = check_settings(settings)
    y0, y1, x0, x1 = regions.box
    crop = rgb[y0:y1, x0:x1]
    masks, width = regions.masks, regions.face_width
    skin = smooth_skin_delta(crop, masks["skin"], width, amount=s["strength"] * s["skin"], texture=s["texture"])
    teeth, teeth_px = teeth_delta(crop, masks["mouth"], amount=s["strength"] * s["teeth"])
    eyes = sharpen_eyes_delta(crop, masks["eyes"], width, amount=s["strength"] * s["eyes"])
    edited = np.clip(np.rint(crop.astype(np.float32) + skin + teeth + eyes), 0, 255).astype(np.uint8)
    out = rgb.copy()
    out[y0:y1, x0:x1] = edited
    before = high_frequency_energy(crop, masks["skin"], width)
    after = high_frequency_energy(edited, masks["skin"], width)
    return out, {
        "box": [x0, y0, x1, y1],
        "face_width": round(width, 1),
        "skin_px": round(float(masks["skin"].sum()), 1),
        "skin_fine_energy_kept": round(after / before, 4) if before > 0 else None,
        "teeth_px": round(teeth_px, 1),
        "mean_abs_change": round(float(np.abs(edited.astype(np.int16) - crop).mean()), 3),
    }


def retouch(rgb: np.ndarray, faces_68: Sequence[np.ndarray], *, person: np.ndarray | None = None,
            **settings: float) -> tuple[np.ndarray, dict[str, Any]]:
    """Every face's retouch on uint8 RGB; (uint8 RGB, settings and per-face measurements)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise InvalidOptionError(f"retouch expects uint8 HxWx3 RGB, got {rgb.dtype} {rgb.shape}")
    settings = check_settings(settings)
    out, noise = guided_denoise(rgb, person, amount=settings["strength"] * settings["denoise"])
    listed = []
    for marks in faces_68:
        out, facts = retouch_face(out, regions_for(out, marks, person=person), **settings)
        listed.append(facts)
    return out, {**settings, "person_mask": person is not None, "faces": listed,
                 **({"denoise_applied": noise} if noise else {})}


def guided_denoise(rgb: np.ndarray, person: np.ndarray | None, *, amount: float) -> tuple[np.ndarray, dict[str, Any]]:
    """The measured-noise denoise weighted by the person mask: background 1, person 1/4.

    {} when off (amount 0); without a person mask it is skipped, and the params say so."""
    if amount <= 0:
        return rgb, {}
    if person is None:
        return rgb, {"applied": False, "reason": "needs the person mask: add the segment step"}
    if person.shape != rgb.shape[:2]:
        raise InvalidOptionError(f"person mask {person.shape} does not match the photo {rgb.shape[:2]}")
    cleaned, params = denoise(rgb, strength=amount)
    if not params["applied"]:
        return rgb, params
    weight = 1.0 - (1.0 - _SUBJECT_DENOISE) * np.clip(person.astype(np.float32), 0.0, 1.0)
    out = rgb.astype(np.float32) + (cleaned.astype(np.float32) - rgb) * weight[..., None]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8), {**params, "subject_fraction": _SUBJECT_DENOISE}


def before_after(before: np.ndarray, after: np.ndarray, boxes: Sequence[Sequence[int]], *,
                 height: int = 640) -> np.ndarray:
    """Before | after, cropped to the faces (a whole-frame view hides a retouch), `height` px."""
    h, w = before.shape[:2]
    if boxes:
        x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
        x1, y1 = max(b[2] for b in boxes), max(b[3] for b in boxes)
        pad = round(0.1 * max(x1 - x0, y1 - y0))
        x0, y0, x1, y1 = max(0, x0 - pad), max(0, y0 - pad), min(w, x1 + pad), min(h, y1 + pad)
    else:
        x0, y0, x1, y1 = 0, 0, w, h
    width = max(1, round((x1 - x0) * height / (y1 - y0)))
    halves = [np.asarray(Image.fromarray(np.ascontiguousarray(img[y0:y1, x0:x1])).resize(
        (width, height), Image.Resampling.LANCZOS)) for img in (before, after)]
    gap = np.full((height, max(2, width // 100), 3), 255, np.uint8)
    return np.concatenate([halves[0], gap, halves[1]], axis=1)
