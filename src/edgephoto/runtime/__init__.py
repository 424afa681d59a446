"""The light runtime: numpy + Pillow + one engine. Never imports TensorFlow, PyTorch or coremltools."""

from __future__ import annotations
