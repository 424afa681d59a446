"""Conversion: sources and targets are nodes of a small graph of registered edges."""

from __future__ import annotations
