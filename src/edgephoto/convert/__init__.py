"""Conversion: sources and targets are nodes of a small graph of registered edges."""

from __future__ import annotations

import os

# TensorFlow's oneDNN graph rewrites are on by default only on CPUs with AVX512_VNNI, AVX512_BF16,
# AVX_VNNI or AMX, and their fused kernels compute differently from the source graph's float32
# ops: the selfie segmenter's reference moved by up to 0.087 (sigmoid output) on an AVX-512 VNNI
# machine, while fetching every intermediate tensor (which blocks the fusions) agreed to 1e-4.
# Parity references and conversions must not depend on the host CPU, so TensorFlow runs its own
# float32 kernels here. TensorFlow reads this once, at import: it must be set before that.
# (`reference_precision()` in convert/sources/tensorflow.py records what TensorFlow really does.)
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
