"""Matting: an alpha matte at photo size from a whole-image model and guided-filter upsampling.

The flow is segmentation's exactly (resize to the model, run once, refine up with the photo as
guide, keep fractional values), so a matting model runs through the same function; only the
meaning of the output differs (alpha rather than person probability).
"""

from __future__ import annotations

from edgephoto.runtime.tasks.segmentation import segment as matte

__all__ = ["matte"]
