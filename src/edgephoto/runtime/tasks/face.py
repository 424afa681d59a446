"""Faces: BlazeFace short-range detection (anchors, decode, weighted NMS) and the face mesh.

Detection letterboxes the photo into 128x128 as MediaPipe does, decodes the 896 SSD anchors
(strides 8,16,16,16, two anchors per layer, fixed unit size), keeps sigmoid scores above the
threshold and merges overlapping boxes by score-weighted averaging (MediaPipe's WEIGHTED NMS),
then maps boxes and the six keypoints back to photo pixels. Landmarks crop a square 1.5x the
face box, rotated so the eyes are level, run the 192x192 mesh and map the 468 points back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from edgephoto.runtime.backends.base import Backend
from edgephoto.runtime.tasks.common import ModelFacts, fit_to_input, run_model

KEYPOINTS = ("right_eye", "left_eye", "nose_tip", "mouth_center", "right_ear_tragion", "left_ear_tragion")


@dataclass(frozen=True)
class Face:
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in photo px
    keypoints: np.ndarray  # (6, 2) x, y in photo px, order KEYPOINTS
    score: float


@dataclass(frozen=True)
class Landmarks:
    points: np.ndarray  # (468, 3) x, y in photo px; z in the same px scale
    presence: float  # probability that the crop holds a face


def ssd_anchors(size: int = 128, strides: tuple[int, ...] = (8, 16, 16, 16), per_layer: int = 2) -> np.ndarray:
    """(N, 2) anchor centres in 0..1; layers sharing a stride share one feature map."""
    centres = []
    layer = 0
    while layer < len(strides):
        stride, count = strides[layer], 0
        while layer < len(strides) and strides[layer] == stride:
            count += per_layer
            layer += 1
        cells = math.ceil(size / stride)
        grid = (np.arange(cells) + 0.5) / cells
        yy, xx = np.meshgrid(grid, grid, indexing="ij")
        centres.append(np.repeat(np.stack([xx.ravel(), yy.ravel()], 1), count, axis=0))
    return np.concatenate(centres).astype(np.float32)


def decode(regressors: np.ndarray, logits: np.ndarray, anchors: np.ndarray, size: int,
           threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes (K, 4) x0 y0 x1 y1, keypoints (K, 6, 2) in 0..1 of the input, scores (K,)."""
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits.reshape(-1).astype(np.float64), -100, 100)))
    keep = scores >= threshold
    raw, anc = regressors.reshape(len(anchors), -1)[keep] / size, anchors[keep]
    cx, cy = raw[:, 0] + anc[:, 0], raw[:, 1] + anc[:, 1]
    w, h = raw[:, 2], raw[:, 3]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    points = raw[:, 4:16].reshape(-1, 6, 2) + anc[:, None, :]
    return boxes, points, scores[keep]


def _iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    x0, y0 = np.maximum(box[0], others[:, 0]), np.maximum(box[1], others[:, 1])
    x1, y1 = np.minimum(box[2], others[:, 2]), np.minimum(box[3], others[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
    union = area(box) + area(others) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def weighted_nms(boxes: np.ndarray, points: np.ndarray, scores: np.ndarray,
                 threshold: float = 0.3) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Merge each cluster of IoU > threshold by score-weighted averaging; keep the top score."""
    order = np.argsort(-scores, kind="stable")
    remaining = list(order)
    merged = []
    while remaining:
        top = remaining[0]
        overlaps = _iou(boxes[top], boxes[remaining])
        cluster = [remaining[i] for i in np.nonzero(overlaps > threshold)[0]] or [top]
        weights = scores[cluster] / scores[cluster].sum()
        merged.append(((boxes[cluster] * weights[:, None]).sum(0),
                       (points[cluster] * weights[:, None, None]).sum(0), float(scores[top])))
        taken = set(cluster) | {top}
        remaining = [i for i in remaining if i not in taken]
    return merged


def detect_faces(backend: Backend, facts: ModelFacts, rgb: np.ndarray, *, threshold: float | None = None,
                 nms_threshold: float = 0.3) -> list[Face]:
    """Faces in an (H, W, 3) uint8 photo, best first, boxes and keypoints in photo px."""
    facts = ModelFacts.load(facts)
    size = int(facts.input.hw[0] or 128)
    strides = tuple(facts.extra.get("anchor_strides", (8, 16, 16, 16)))
    threshold = float(facts.extra.get("score_threshold", 0.5)) if threshold is None else threshold
    fitted, placement = fit_to_input(rgb, (size, size), "letterbox")
    outputs = run_model(backend, facts, fitted[None])
    regressors, logits = sorted(outputs, key=lambda a: -a.shape[-1])[:2]  # (1,896,16), (1,896,1)
    boxes, points, scores = decode(regressors[0], logits[0], ssd_anchors(size, strides), size, threshold)
    y0, x0, ch, cw = placement.box
    photo_h, photo_w = placement.photo_hw

    def to_photo(xy: np.ndarray) -> np.ndarray:
        return np.stack([(xy[..., 0] * size - x0) * photo_w / cw, (xy[..., 1] * size - y0) * photo_h / ch], -1)

    faces = []
    for box, kps, score in weighted_nms(boxes, points, scores, nms_threshold):
        corners = to_photo(box.reshape(2, 2))
        faces.append(Face(tuple(float(v) for v in corners.ravel()), to_photo(kps), score))  # type: ignore[arg-type]
    return faces


def face_crop(face: Face, *, scale: float = 1.5) -> tuple[float, float, float, float]:
    """(centre x, centre y, side, angle) of the square crop: eyes level, side = scale x long side."""
    x0, y0, x1, y1 = face.box
    right_eye, left_eye = face.keypoints[0], face.keypoints[1]
    angle = math.atan2(left_eye[1] - right_eye[1], left_eye[0] - right_eye[0])
    return (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0) * scale, angle


def face_landmarks(backend: Backend, facts: ModelFacts, rgb: np.ndarray, face: Face | None = None,
                   *, scale: float = 1.5) -> Landmarks:
    """468 landmarks of `face` (or of the whole photo as one face) in photo px."""
    facts = ModelFacts.load(facts)
    size = int(facts.input.hw[0] or 192)
    height, width = rgb.shape[:2]
    if face is None:
        cx, cy, side, angle = width / 2, height / 2, float(max(width, height)), 0.0
    else:
        cx, cy, side, angle = face_crop(face, scale=scale)
    k = side / size
    cos, sin = math.cos(angle) * k, math.sin(angle) * k
    # crop px (u, v) -> photo px: centre + R(angle) @ ((u, v) - size/2) * k
    affine = np.array([[cos, -sin, cx - (cos - sin) * size / 2], [sin, cos, cy - (sin + cos) * size / 2]])
    crop = Image.fromarray(np.ascontiguousarray(rgb, np.uint8)).transform(
        (size, size), Image.Transform.AFFINE, tuple(affine.ravel()), Image.Resampling.BILINEAR)
    outputs = run_model(backend, facts, np.asarray(crop, np.float32)[None])
    mesh = next(o for o in outputs if o.size % 3 == 0 and o.size >= 3 * 468).reshape(-1, 3)
    logit = next((o for o in outputs if o.size == 1), np.array([10.0]))
    xy = mesh[:, :2] @ affine[:, :2].T + affine[:, 2]
    points = np.concatenate([xy, mesh[:, 2:] * k], axis=1).astype(np.float32)
    return Landmarks(points, float(1.0 / (1.0 + np.exp(-float(np.ravel(logit)[0])))))
