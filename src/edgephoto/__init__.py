"""edgephoto: convert, quantize, run and benchmark on-device photo AI models."""

from __future__ import annotations

from typing import Any

from edgephoto.version import __version__

__all__ = ["__version__", "load"]


def load(model: Any, **options: Any) -> Any:
    """A callable task model from a zoo name or an artifact dir: see edgephoto.api.load."""
    from edgephoto.api import load as load_model

    return load_model(model, **options)
