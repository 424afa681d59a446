"""Person segmentation: whole-image inference at model resolution, one-pass upsampling.

The photo is resized to the model input ('stretch' as MediaPipe selfie expects, or
'letterbox'), the low-resolution mask is cut back to the content box and enlarged to the photo
in one vectorised bilinear pass. The guided filter (edges follow the photo's colours rather
than the mask's pixels) stays an option, `refine=True`: on the portraits it buys no IoU (see
`segment`), and matting, where soft edges are the point, keeps it on. A person who fills little
of the photo gets a second look (ZoomPolicy, on by default): the model runs again on a crop
around the first pass's person box and the crop's mask is fused in there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgephoto.errors import InvalidOptionError, did_you_mean
from edgephoto.runtime.backends.base import Backend
from edgephoto.runtime.refine import guided_upsample, upsample_bilinear
from edgephoto.runtime.tasks.common import Fit, ModelFacts, fit_to_input, run_model, unfit


def probability(values: np.ndarray, foreground: int = 1) -> np.ndarray:
    """(h, w, C) model output to a 0..1 foreground map: softmax over >1 channels, else clip."""
    if values.shape[-1] == 1:
        return np.clip(values[..., 0], 0.0, 1.0)
    shifted = values - values.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return (exp[..., foreground] / exp.sum(axis=-1)).astype(np.float32)


def fit_photo(facts: ModelFacts, rgb: np.ndarray, fit: str | None = None) -> tuple[np.ndarray, Fit, tuple[int, int]]:
    """The photo resized into the model input (float 0..255), where it sits, and the input size."""
    in_hw = facts.input.hw
    if in_hw[0] is None or in_hw[1] is None:  # dynamic input: use the policy's size
        in_hw = (facts.tile, facts.tile)
    input_hw = (int(in_hw[0]), int(in_hw[1]))  # type: ignore[arg-type]
    # point-sampled shrink: a mask needs no finer input (same IoU on the portraits, see
    # _resize_photo) and it is the largest cost of the call beside the model
    fitted, placement = fit_to_input(rgb, input_hw, fit or str(facts.extra.get("fit", "stretch")), sampled=True)
    return fitted, placement, input_hw


def output_mask(facts: ModelFacts, out: np.ndarray, placement: Fit, input_hw: tuple[int, int]) -> np.ndarray:
    """One (h, w, C) model output to the foreground probability, cropped to the content box."""
    return unfit(probability(out, int(facts.extra.get("foreground_channel", 1))), placement, input_hw)


def low_res_mask(backend: Backend, facts: ModelFacts, rgb: np.ndarray, *, fit: str | None = None) -> np.ndarray:
    """The model's mask at model resolution, cropped to the photo's content box."""
    facts = ModelFacts.load(facts)
    fitted, placement, input_hw = fit_photo(facts, rgb, fit)
    out = run_model(backend, facts, fitted[None])[0][0]
    return output_mask(facts, out, placement, input_hw)


def upsample_mask(rgb: np.ndarray, low: np.ndarray, *, refine: bool = False, radius: int | None = None,
                  eps: float = 1e-4) -> np.ndarray:
    """Low-res mask to photo size: guided filter (refine) or one bilinear pass.

    The bilinear path reads only the photo's size, never its pixels: no colour conversion."""
    if refine:
        return guided_upsample(rgb, low, radius=radius, eps=eps)
    return upsample_bilinear(low, rgb.shape[:2], clip=True)


def segment(
    backend: Backend,
    facts: ModelFacts,
    rgb: np.ndarray,
    *,
    fit: str | None = None,
    refine: bool = False,
    radius: int | None = None,
    eps: float = 1e-4,
    zoom: bool | ZoomPolicy = True,
) -> np.ndarray:
    """Person probability (H, W) float32 0..1 for an (H, W, 3) uint8 photo.

    refine=False by default, measured (benchmarks/results/segmentation_speed.md, selfie, the 150
    portraits, mask > 0.5 at full size): the guided filter scored IoU 0.9183 vs 0.9185 bilinear
    and boundary F 0.7299 vs 0.7248, while the former default call took ~9x MediaPipe's time and
    this one ~1.0x (onnxruntime); refine=True keeps it for edge work (the pipeline's segment step).

    zoom=True by default (or a ZoomPolicy): a second pass on a crop around each person who fills
    little of the photo (zoom_in). Measured (benchmarks/results/person_zoom.md, onnxruntime, 1
    core): IoU 0.9255 vs 0.9185 single pass (MediaPipe 0.9172; one box around everyone 0.9237),
    held-out 76-150 0.9252 vs 0.9204; a person under 10 % of the frame 0.8423 vs 0.8344. A large
    person (> 40 %) never zooms: the single pass's mask exactly, plus the 0.05 ms decision (4.96
    vs 5.07 CPU ms, MediaPipe 5.00, within the run's noise); a zoomed photo (66 of 150) costs
    about twice the single pass. zoom=False is the single pass.
    """
    if not isinstance(zoom, bool | ZoomPolicy):
        raise InvalidOptionError(f"zoom must be True, False or a ZoomPolicy, got {zoom!r}")
    low = low_res_mask(backend, facts, rgb, fit=fit)
    mask = upsample_mask(rgb, low, refine=refine, radius=radius, eps=eps)
    if not zoom:
        return mask
    policy = zoom if isinstance(zoom, ZoomPolicy) else ZoomPolicy()
    return zoom_in(backend, facts, rgb, low, mask, policy=policy, fit=fit, refine=refine, radius=radius, eps=eps)


# ---- zoom: a second pass on a crop around a small person -------------------------------------

@dataclass(frozen=True)
class ZoomPolicy:
    """When and how segment(zoom=True) looks again at a small person.

    The selfie model was trained on upper bodies that fill its 256² input; a distant person
    covers a few dozen of its pixels and the mask loses limbs and edges. When the first pass's
    person box is small, the model runs once more on a crop around it and the two masks are
    fused there. Defaults chosen on portraits 1-75, held out on 76-150
    (benchmarks/results/person_zoom.md): IoU +0.55 points on 1-75, +0.48 on 76-150; no
    portrait whose person fills > 40 % of the frame zooms.

    People standing apart (per_person) are boxed one by one: a box around a group spans the
    gap between them and is often too large to zoom, while each person alone is small."""

    threshold: float = 0.5  # low-res probability that counts as person when boxing them
    max_area: float = 0.5  # zoom only when the person's box covers less of the photo than this
    margin: float = 0.1  # context on every side, as a fraction of the box's longer side
    max_aspect: float = 2.0  # crop's long side over short side at most (the input is square)
    max_crop: float = 0.9  # skip a crop this much of the photo or more: it would see the same
    fuse: str = "max"  # inside the crop: "max" of both masks, the crop's ("replace"), or "mean"
    per_person: bool = True  # a box per person where empty columns part them, else one around all
    gap: float = 0.03  # empty columns (fraction of the map's width) that part two people
    min_share: float = 0.05  # a part with less of the person pixels than this is not a person
    max_crops: int = 4  # second passes at most (the largest people first): bounded time

    def __post_init__(self) -> None:
        if self.fuse not in FUSES:
            raise InvalidOptionError(f"zoom fuse must be one of {list(FUSES)}, got '{self.fuse}'."
                                     + did_you_mean(self.fuse, FUSES))
        for name in ("threshold", "max_area", "max_crop", "gap", "min_share"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise InvalidOptionError(f"zoom {name} must be in (0, 1], got {getattr(self, name)}")
        if self.max_crops < 1:
            raise InvalidOptionError(f"zoom max_crops must be >= 1, got {self.max_crops}")
        if self.margin < 0 or self.max_aspect < 1:
            raise InvalidOptionError(f"zoom margin must be >= 0 and max_aspect >= 1, got {self.margin}, "
                                     f"{self.max_aspect}")


FUSES = ("max", "replace", "mean")


def person_box(low: np.ndarray, threshold: float = 0.5) -> tuple[float, float, float, float] | None:
    """(y0, x0, y1, x1) in 0..1 of the map: the box around every pixel above threshold, or None.

    One box around everyone: people side by side share one crop (one more model run at most)."""
    above = low > threshold
    rows, cols = np.flatnonzero(above.any(axis=1)), np.flatnonzero(above.any(axis=0))
    if not len(rows):
        return None
    h, w = low.shape
    return rows[0] / h, cols[0] / w, (rows[-1] + 1) / h, (cols[-1] + 1) / w


def person_boxes(low: np.ndarray, threshold: float = 0.5, *, gap: float = 0.03,
                 min_share: float = 0.05) -> list[tuple[float, float, float, float]]:
    """A box (y0, x0, y1, x1 in 0..1 of the map) per person, largest first: the columns holding
    someone, split where at least `gap` of the width is empty, each part boxed alone. Parts with
    under `min_share` of the person pixels (a stray blob) are left out; so is nobody: []."""
    above = low > threshold
    h, w = low.shape
    cols = np.flatnonzero(above.any(axis=0))
    if not len(cols):
        return []
    breaks = np.flatnonzero(np.diff(cols) > max(1, int(gap * w)))  # last column before each gap
    starts, ends = np.r_[cols[0], cols[breaks + 1]], np.r_[cols[breaks], cols[-1]] + 1
    # one part (most photos) needs no pixel counts: the decision stays as cheap as one box's
    counts: list[int] = ([int(np.count_nonzero(above[:, a:b])) for a, b in zip(starts, ends, strict=True)]
                         if len(starts) > 1 else [1])
    total = sum(counts)
    parts = []
    for a, b, count in zip(starts.tolist(), ends.tolist(), counts, strict=True):
        if count < min_share * total:
            continue
        rows = np.flatnonzero(above[:, a:b].any(axis=1))
        parts.append((count, (rows[0] / h, a / w, (rows[-1] + 1) / h, b / w)))
    return [box for _, box in sorted(parts, key=lambda p: -p[0])]


def zoom_crop(box: tuple[float, float, float, float], photo_hw: tuple[int, int], *,
              margin: float = 0.1, max_aspect: float = 2.0) -> tuple[int, int, int, int]:
    """(y0, x0, y1, x1) photo px of a crop around `box` (0..1 of the photo) with context.

    Each side grows by `margin` times the box's longer side; a crop longer than max_aspect times
    its width (or the reverse) is widened to that ratio, since the model's square input then
    stretches it less. Where the photo ends the crop is shifted, then cut, never padded."""
    height, width = photo_hw
    y0, x0, y1, x1 = box[0] * height, box[1] * width, box[2] * height, box[3] * width
    grow = 2 * margin * max(y1 - y0, x1 - x0)
    tall, wide = y1 - y0 + grow, x1 - x0 + grow
    tall, wide = max(tall, wide / max_aspect), max(wide, tall / max_aspect)
    out = []
    for centre, length, limit in (((y0 + y1) / 2, tall, height), ((x0 + x1) / 2, wide, width)):
        size = max(1, min(limit, round(length)))
        start = int(min(max(0, round(centre - size / 2)), limit - size))
        out.append((start, start + size))
    (top, bottom), (left, right) = out
    return top, left, bottom, right


def zoom_regions(low: np.ndarray, photo_hw: tuple[int, int],
                 policy: ZoomPolicy = ZoomPolicy()) -> list[tuple[int, int, int, int]]:
    """The crops (y0, x0, y1, x1, photo px) second passes should see, largest person first; []
    when none would pay. A person box of max_area or more, or a crop of max_crop or more of the
    photo, gets none: the first pass saw that person at enough pixels."""
    if policy.per_person:
        boxes = person_boxes(low, policy.threshold, gap=policy.gap, min_share=policy.min_share)
    else:
        boxes = [box] if (box := person_box(low, policy.threshold)) is not None else []
    crops = []
    for box in boxes:
        if (box[2] - box[0]) * (box[3] - box[1]) >= policy.max_area:
            continue
        top, left, bottom, right = zoom_crop(box, photo_hw, margin=policy.margin, max_aspect=policy.max_aspect)
        if (bottom - top) * (right - left) < policy.max_crop * photo_hw[0] * photo_hw[1]:
            crops.append((top, left, bottom, right))
    return crops[: policy.max_crops]


def zoom_in(backend: Backend, facts: ModelFacts, rgb: np.ndarray, low: np.ndarray, mask: np.ndarray, *,
            policy: ZoomPolicy = ZoomPolicy(), fit: str | None = None, refine: bool = False,
            radius: int | None = None, eps: float = 1e-4) -> np.ndarray:
    """`mask` (the first pass, at photo size) with a second pass on a crop around each small
    person fused in; `mask` itself, with no second model run, when zoom_regions finds none."""
    crops = zoom_regions(low, rgb.shape[:2], policy)
    if not crops:
        return mask
    out = mask.copy()
    for top, left, bottom, right in crops:
        crop = rgb[top:bottom, left:right]
        near = upsample_mask(crop, low_res_mask(backend, facts, crop, fit=fit), refine=refine, radius=radius,
                             eps=eps)
        region = out[top:bottom, left:right]
        if policy.fuse == "replace":
            region[...] = near
        elif policy.fuse == "max":  # the crop adds what the far view missed, keeps what it found
            np.maximum(region, near, out=region)
        else:  # the two passes' mean: the whole-photo pass still votes inside the crop
            region += near
            region *= 0.5
    return out
