"""Rewrites of ONNX graphs that one conversion step needs (one file per pass)."""
