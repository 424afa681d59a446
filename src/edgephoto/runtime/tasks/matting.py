"""Matting: an alpha matte at photo size from a whole-image model and guided-filter upsampling.

Same shape as segmentation (resize to the model, run once, refine up), but the output is an
alpha matte, so the refinement keeps fractional values instead of thresholding.
"""

from __future__ import annotations

import numpy as np

from edgephoto.runtime.backends.base import Backend
from edgephoto.runtime.tasks.common import ModelFacts
from edgephoto.runtime.tasks.segmentation import low_res_mask, upsample_mask


def matte(
    backend: Backend,
    facts: ModelFacts,
    rgb: np.ndarray,
    *,
    fit: str | None = None,
    refine: bool = True,
    radius: int | None = None,
    eps: float = 1e-4,
) -> np.ndarray:
    """Alpha (H, W) float32 0..1 for an (H, W, 3) uint8 photo."""
    low = low_res_mask(backend, facts, rgb, fit=fit)
    return upsample_mask(rgb, low, refine=refine, radius=radius, eps=eps)
