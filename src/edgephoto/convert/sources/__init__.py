"""Source loaders: each registers graph edges out of its format."""

from __future__ import annotations
