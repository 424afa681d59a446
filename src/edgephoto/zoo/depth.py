"""Monocular depth: FastDepth (full-int8 TFLite from OpenMV)."""

from __future__ import annotations

from edgephoto.zoo import register
from edgephoto.zoo.sources import url_file
from edgephoto.zoo.spec import ModelSpec, Normalization, TensorSpec, TilePolicy

OPENMV_COMMIT = "49a017eafd3aebda9b6b827bd2a367ded1592efc"

register(
    ModelSpec(
        name="fastdepth",
        task="depth",
        source_format="tflite",
        files=(
            url_file(
                "depth/fast_depth_224.tflite",
                "e8957602750f16ac130210868f4403b38b4042f0d10c00b89ec03fc3dc840125",
                1680480,
                f"https://raw.githubusercontent.com/openmv/openmv/{OPENMV_COMMIT}/lib/models/fast_depth_224.tflite",
                bundled=True,
            ),
        ),
        inputs=(
            TensorSpec(
                "image",
                (1, 224, 224, 3),
                dtype="uint8",
                normalization=Normalization(color="RGB"),
            ),
        ),
        outputs=(
            TensorSpec(
                "depth",
                (1, 224, 224, 1),
                dtype="uint8",
                meaning="metric depth, metres = q x output scale (tensor quantization params)",
            ),
        ),
        tile=TilePolicy("tile", 224, 56, 224),
        licence="MIT",
        description="FastDepth (MobileNet + NNConv5, NYU Depth v2), full-int8 TFLite",
        upstream=f"github openmv/openmv@{OPENMV_COMMIT[:7]} lib/models/fast_depth_224.tflite",
    )
)
