"""What the EXIF says about how a photo was taken, in the units the other steps use.

Exposure value at ISO 100 (EV100) tells a night shot from a daylight one; ISO gives a prior on
sensor noise that the denoise step weighs against the noise it measures.
"""

from __future__ import annotations

import math
from typing import Any


def exposure_value(facts: dict[str, Any]) -> float | None:
    """EV100 = log2(N^2 / t) - log2(ISO / 100), or None if aperture or shutter is unknown."""
    n, t, iso = facts.get("f_number"), facts.get("exposure_time"), facts.get("iso")
    if not n or not t or n <= 0 or t <= 0:
        return None
    ev = math.log2(n * n / t)
    if iso and iso > 0:
        ev -= math.log2(iso / 100.0)
    return ev


def capture_conditions(facts: dict[str, Any]) -> dict[str, Any]:
    """Facts plus derived values: EV100, low-light flag and an ISO noise prior (1.0 at ISO 100)."""
    ev = exposure_value(facts)
    iso = facts.get("iso")
    # Shot noise grows with the gain: sigma roughly proportional to sqrt(ISO).
    iso_factor = math.sqrt(iso / 100.0) if iso and iso > 0 else None
    long_exposure = bool(facts.get("exposure_time") and facts["exposure_time"] >= 1 / 15)
    return {
        "iso": iso,
        "exposure_time": facts.get("exposure_time"),
        "f_number": facts.get("f_number"),
        "focal_length": facts.get("focal_length"),
        "camera": " ".join(x for x in (facts.get("make"), facts.get("model")) if x) or None,
        "ev100": None if ev is None else round(ev, 2),
        "low_light": (ev is not None and ev < 7.0) or (iso is not None and iso >= 1600) or long_exposure,
        "iso_noise_factor": None if iso_factor is None else round(iso_factor, 3),
    }
