"""Classic photo pre-processing, numpy only: EXIF facts, noise, white balance, tone.

Each operation takes uint8 RGB and returns (uint8 RGB, params dict): the params are what it
measured and what it chose, recorded in the pipeline's JSON summary.
"""

from __future__ import annotations

from edgephoto.runtime.photo.colour import lab_to_rgb, rgb_to_lab, white_balance
from edgephoto.runtime.photo.exif import capture_conditions, exposure_value
from edgephoto.runtime.photo.noise import denoise, estimate_noise
from edgephoto.runtime.photo.tone import tone_curve

__all__ = [
    "capture_conditions",
    "denoise",
    "estimate_noise",
    "exposure_value",
    "lab_to_rgb",
    "rgb_to_lab",
    "tone_curve",
    "white_balance",
]
