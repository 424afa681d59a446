"""Person segmentation: whole-image inference at model resolution, edge-aware upsampling.

The photo is resized to the model input ('stretch' as MediaPipe selfie expects, or
'letterbox'), the low-resolution mask is cut back to the content box and upsampled to the
photo with the guided filter, so hair and edges follow the photo rather than the mask's pixels.
"""

from __future__ import annotations

import numpy as np

from edgephoto.runtime.backends.base import Backend
from edgephoto.runtime.refine import guided_upsample, resize
from edgephoto.runtime.tasks.common import ModelFacts, fit_to_input, run_model, unfit


def probability(values: np.ndarray, foreground: int = 1) -> np.ndarray:
    """(h, w, C) model output to a 0..1 foreground map: softmax over >1 channels, else clip."""
    if values.shape[-1] == 1:
        return np.clip(values[..., 0], 0.0, 1.0)
    shifted = values - values.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return (exp[..., foreground] / exp.sum(axis=-1)).astype(np.float32)


def low_res_mask(backend: Backend, facts: ModelFacts, rgb: np.ndarray, *, fit: str | None = None) -> np.ndarray:
    """The model's mask at model resolution, cropped to the photo's content box."""
    facts = ModelFacts.load(facts)
    in_hw = facts.input.hw
    if in_hw[0] is None or in_hw[1] is None:  # dynamic input: use the policy's size
        in_hw = (facts.tile, facts.tile)
    input_hw = (int(in_hw[0]), int(in_hw[1]))  # type: ignore[arg-type]
    fitted, placement = fit_to_input(rgb, input_hw, fit or str(facts.extra.get("fit", "stretch")))
    out = run_model(backend, facts, fitted[None])[0][0]
    mask = probability(out, int(facts.extra.get("foreground_channel", 1)))
    return unfit(mask, placement, input_hw)


def upsample_mask(rgb: np.ndarray, low: np.ndarray, *, refine: bool = True, radius: int | None = None,
                  eps: float = 1e-4) -> np.ndarray:
    """Low-res mask to photo size: guided filter (refine) or plain bilinear."""
    if refine:
        return guided_upsample(rgb, low, radius=radius, eps=eps)
    return np.clip(resize(low, rgb.shape[:2], "bilinear"), 0.0, 1.0)


def segment(
    backend: Backend,
    facts: ModelFacts,
    rgb: np.ndarray,
    *,
    fit: str | None = None,
    refine: bool = True,
    radius: int | None = None,
    eps: float = 1e-4,
) -> np.ndarray:
    """Person probability (H, W) float32 0..1 for an (H, W, 3) uint8 photo."""
    low = low_res_mask(backend, facts, rgb, fit=fit)
    return upsample_mask(rgb, low, refine=refine, radius=radius, eps=eps)
