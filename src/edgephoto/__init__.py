"""edgephoto: convert, quantize, run and benchmark on-device photo AI models."""

from __future__ import annotations

__version__ = "0.1.0"
