"""Matting: an alpha matte at photo size from a whole-image model and guided-filter upsampling.

The flow is segmentation's exactly (resize to the model, run once, refine up with the photo as
guide, keep fractional values), so a matting model runs through the same function; only the
meaning of the output differs (alpha rather than person probability) and so does the default:
an alpha's soft edges are the product, so the guided filter stays on here (on lemur.png it cuts
SAD against the reference alpha below bilinear's, tests/runtime/test_tasks.py).
"""

from __future__ import annotations

import numpy as np

from edgephoto.runtime.backends.base import Backend
from edgephoto.runtime.tasks.common import ModelFacts
from edgephoto.runtime.tasks.segmentation import ZoomPolicy, segment


def matte(
    backend: Backend,
    facts: ModelFacts,
    rgb: np.ndarray,
    *,
    fit: str | None = None,
    refine: bool = True,
    radius: int | None = None,
    eps: float = 1e-4,
    zoom: bool | ZoomPolicy = False,
) -> np.ndarray:
    """Alpha (H, W) float32 0..1 for an (H, W, 3) uint8 photo, guided-filter refined by default.

    zoom stays off here (segment's is on): it was measured on person masks, not on alphas."""
    return segment(backend, facts, rgb, fit=fit, refine=refine, radius=radius, eps=eps, zoom=zoom)


__all__ = ["matte"]
