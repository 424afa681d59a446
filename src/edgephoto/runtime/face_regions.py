"""The iBUG/dlib 68 facial landmarks from FaceMesh's 468, and the face regions they outline.

Retouching needs a few named contours (jaw, brows, eyes, lips), not 468 mesh vertices; the 68
iBUG points are the layout every face-editing tool and paper uses for them. Regions are
polygons rasterised with Pillow at a crop around the face, then feathered, so an edit fades out
instead of leaving a seam. Everything here is numpy and Pillow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from edgephoto.errors import InvalidOptionError
from edgephoto.runtime.photo.filters import gaussian_blur

# FaceMesh vertex (or the mean of two neighbouring vertices) for each iBUG-68 point, in iBUG
# order; "right" is the subject's right (the image's left), as in iBUG. The correspondence is
# the one documented by Peizhi Yan, "Mediapipe_2_Dlib_Landmarks" (github.com/PeizhiYan/
# Mediapipe_2_Dlib_Landmarks, mp2dlib.py, 2024), read against MediaPipe's canonical face model
# UV map (mediapipe/modules/face_geometry/data/canonical_face_model_uv_visualization.png).
IBUG68_FROM_FACEMESH: tuple[tuple[int, ...], ...] = (
    # jaw 0-16, from the subject's right ear round the chin to the left ear
    (127,), (234,), (93,), (132, 58), (58, 172), (136,), (150,), (176,), (152,),
    (400,), (379,), (365,), (397, 288), (361,), (323,), (454,), (356,),
    # brows 17-21 (right), 22-26 (left), outer to inner, then inner to outer
    (70,), (63,), (105,), (66,), (107,),
    (336,), (296,), (334,), (293,), (300,),
    # nose 27-30 bridge down to the tip, 31-35 lower edge right to left
    (168, 6), (197, 195), (5,), (4,), (75,), (97,), (2,), (326,), (305,),
    # eyes 36-41 (right), 42-47 (left): outer corner, upper lid, inner corner, lower lid
    (33,), (160,), (158,), (133,), (153,), (144,),
    (362,), (385,), (387,), (263,), (373,), (380,),
    # outer lip 48-59: right corner, upper edge, left corner, lower edge back
    (61,), (39,), (37,), (0,), (267,), (269,), (291,), (321,), (314,), (17,), (84,), (91,),
    # inner lip 60-67: right corner, upper inner edge, left corner, lower inner edge back
    (78,), (82,), (13,), (312,), (308,), (317,), (14,), (87,),
)
JAW, BROW_R, BROW_L, NOSE = slice(0, 17), slice(17, 22), slice(22, 27), slice(27, 36)
EYE_R, EYE_L, OUTER_LIP, INNER_LIP = slice(36, 42), slice(42, 48), slice(48, 60), slice(60, 68)
REGIONS = ("skin", "eyes", "brows", "lips", "mouth")


def landmarks_68(points468: np.ndarray) -> np.ndarray:
    """(68, 2) iBUG points (x, y in the input's units) from FaceMesh's (468, 2 or 3) points."""
    points = np.asarray(points468, np.float64)
    if points.ndim != 2 or points.shape[0] < 468 or points.shape[1] < 2:
        raise InvalidOptionError(f"landmarks_68 needs FaceMesh's (468, 2|3) points, got {points.shape}")
    return np.stack([points[list(idx), :2].mean(axis=0) for idx in IBUG68_FROM_FACEMESH]).astype(np.float32)


@dataclass(frozen=True)
class FaceRegions:
    """Feathered region masks (0..1) of one face on the crop rows y0:y1, columns x0:x1."""

    box: tuple[int, int, int, int]  # y0, y1, x0, x1 in photo px
    masks: dict[str, np.ndarray]  # name in REGIONS -> float32 (y1 - y0, x1 - x0)
    face_width: float  # jaw end to jaw end, px: sets every radius

    def full(self, name: str, shape: tuple[int, int]) -> np.ndarray:
        """The region as a photo-sized float32 mask (0 outside the crop)."""
        out = np.zeros(shape, np.float32)
        y0, y1, x0, x1 = self.box
        out[y0:y1, x0:x1] = self.masks[name]
        return out

    def union(self, shape: tuple[int, int]) -> np.ndarray:
        """Where any region reaches (> 0): no retouch edit may change a pixel outside it."""
        out = np.zeros(shape, bool)
        y0, y1, x0, x1 = self.box
        out[y0:y1, x0:x1] = np.logical_or.reduce([m > 0 for m in self.masks.values()])
        return out


def _forehead(marks: np.ndarray, rise: float) -> np.ndarray:
    """The brow line raised along the face's up axis (chin -> nose bridge), jaw ends raised less,
    closing the oval over the forehead, which the 68 points do not reach."""
    up = marks[27] - marks[8]
    length = float(np.hypot(*up))
    up = up / max(length, 1e-6)
    brows = marks[17:27][::-1] + up * rise * length  # left outer -> right outer, to close the jaw
    ends = [marks[16] + up * 0.5 * rise * length, marks[0] + up * 0.5 * rise * length]
    return np.vstack([ends[:1], brows, ends[1:]])


def _brow_band(brow: np.ndarray, eye: np.ndarray) -> np.ndarray:
    """The 68 points trace a brow's upper edge: close it with the same line moved toward the eye."""
    down = eye.mean(axis=0) - brow.mean(axis=0)
    return np.vstack([brow, brow[::-1] + down * 0.45])


def face_regions(marks: np.ndarray, shape: tuple[int, int], *, person: np.ndarray | None = None,
                 feather: float = 0.02, forehead: float = 0.45, skin_only: np.ndarray | None = None) -> FaceRegions:
    """Skin, eyes, brows, lips and inner-mouth masks of the face with iBUG points `marks`.

    feather: blur sigma as a fraction of the face width. forehead: how far above the brows the
    skin reaches, as a fraction of chin-to-bridge. Skin is the oval minus the features, the
    holes grown by the feather so smoothing fades out before an eye, brow or lip contour and is
    exactly 0 on it. person: the photo-sized person mask, multiplied into every region.
    skin_only: an optional photo-sized 0..1 skin-likeness, multiplied into the skin mask.
    """
    marks = np.asarray(marks, np.float64)
    height, width = shape
    face_width = float(np.hypot(*(marks[16] - marks[0])))
    sigma = max(1.0, feather * face_width)
    oval = np.vstack([marks[JAW], _forehead(marks, forehead)])
    pad = 4.0 * sigma + 2.0
    x0, y0 = np.floor(oval.min(axis=0) - pad).astype(int)
    x1, y1 = np.ceil(oval.max(axis=0) + pad).astype(int)
    y0, y1, x0, x1 = max(0, y0), min(height, y1), max(0, x0), min(width, x1)
    if y1 - y0 < 4 or x1 - x0 < 4:
        raise InvalidOptionError(f"face landmarks {oval.min(axis=0)}..{oval.max(axis=0)} lie outside the photo")
    offset = np.array([x0, y0], np.float64)
    size = (x1 - x0, y1 - y0)

    def polygon(*parts: np.ndarray, grow: float = 0.0) -> np.ndarray:
        canvas = Image.new("L", size, 0)
        draw = ImageDraw.Draw(canvas)
        for part in parts:
            xy = [tuple(p) for p in (part - offset).tolist()]
            draw.polygon(xy, fill=255, outline=255, width=max(1, round(2 * grow)) if grow else 1)
        return np.asarray(canvas, np.float32) / 255.0

    def feathered(hard: np.ndarray, s: float) -> np.ndarray:
        return np.clip(gaussian_blur(hard, s), 0.0, 1.0)

    eye_r, eye_l = marks[EYE_R], marks[EYE_L]
    eye_height = float(np.mean([np.ptp(eye_r[:, 1]), np.ptp(eye_l[:, 1])]))
    features = [eye_r, eye_l, _brow_band(marks[BROW_R], eye_r), _brow_band(marks[BROW_L], eye_l), marks[OUTER_LIP]]
    holes = polygon(*features, grow=2.0 * sigma)
    hard_features = polygon(*features)
    skin = feathered(polygon(oval) * (1.0 - holes), sigma) * (1.0 - hard_features)
    # Eyes keep their lashes: the lid contour grown by a third of the eye's height.
    eyes = feathered(polygon(eye_r, eye_l, grow=max(1.0, eye_height / 3)), max(1.0, sigma / 2))
    brows = feathered(polygon(features[2], features[3]), sigma / 2)
    lips = feathered(polygon(marks[OUTER_LIP]), sigma / 2) * (1.0 - polygon(marks[INNER_LIP]))
    inner = polygon(marks[INNER_LIP])
    mouth = feathered(inner, max(1.0, sigma / 4)) * inner  # fades in from the lip line, 0 outside it
    masks = {"skin": skin, "eyes": eyes, "brows": brows, "lips": lips, "mouth": mouth}
    if skin_only is not None:
        masks["skin"] = masks["skin"] * skin_only[y0:y1, x0:x1]
    if person is not None:
        if person.shape != shape:
            raise InvalidOptionError(f"person mask {person.shape} does not match the photo {shape}")
        crop = np.clip(person[y0:y1, x0:x1].astype(np.float32), 0.0, 1.0)
        masks = {name: m * crop for name, m in masks.items()}
    return FaceRegions((int(y0), int(y1), int(x0), int(x1)), {k: v.astype(np.float32) for k, v in masks.items()},
                       face_width)
