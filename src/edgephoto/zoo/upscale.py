"""Super-resolution entries: UpscalerJS ESRGAN (TF.js layers) and FSRCNN (TF1 frozen graphs)."""

from __future__ import annotations

from edgephoto.zoo import register
from edgephoto.zoo.sources import npm_file, url_file
from edgephoto.zoo.spec import ModelSpec, Normalization, TensorSpec, TilePolicy, WeightFile

RGB_0_255 = Normalization(mean=(0.0,), std=(1.0,), color="RGB")
# UpscalerJS declares inputRange/outputRange [0, 1] for its 'rrdn' (thick) models and [0, 255]
# for 'rdn' (slim, medium); thick fed 0-255 loses 0.13 dB on Set5 x4 (29.82 vs 29.95).
RGB_0_1 = Normalization(mean=(0.0,), std=(255.0,), color="RGB")
LUMA_0_1 = Normalization(mean=(0.0,), std=(255.0,), color="Y")

# (variant, scale) -> [(file name, sha256, bytes)], model.json first.
ESRGAN_FILES: dict[tuple[str, int], list[tuple[str, str, int]]] = {
    ("slim", 2): [
        ("model.json", "8efb488c2caed0196a6163e3f06798f9245e92623ffd50654a26c372e09150ea", 12336),
        ("group1-shard1of1.bin", "5cb464ae4d390ce0a771afd5feaf60fbfcdb18ab48a56db98cdf6b88202369de", 888300),
    ],
    ("slim", 3): [
        ("model.json", "642208758cf6c42a4f88745894b45cc03776681a46027b85963f01fe003e9917", 12336),
        ("group1-shard1of1.bin", "9d344609abd1e29bd3924f9c4e9ffaa1aee6be7c3586bab0f52863597858a2ba", 907260),
    ],
    ("slim", 4): [
        ("model.json", "3a2eaa642232567e7d2a2e7638c9704f42f63f355fc656c18aa78bf2da1d903d", 12336),
        ("group1-shard1of1.bin", "82637daaf3ba024df5e9da2389e8992e7a6e8a992ba6268ce6bc490c92e9516e", 933804),
    ],
    ("medium", 2): [
        ("model.json", "197b99be1f385b9f7914ecd8fd6e9ebf65833859807aae90666188dbc39cbf93", 30051),
        ("group1-shard1of1.bin", "6a210f30f209192bad4650ea4f619adadbd36228e998aa49a4195c6e7ec70761", 2772940),
    ],
    ("medium", 3): [
        ("model.json", "fcf99e8e6b98b19e496d4ceb9d381b0d1236a6e62fbc3952eedf70b9596d8a8a", 30051),
        ("group1-shard1of1.bin", "e164821f4251957f5037fb93d1e9a719c17d4346e102bf24d8e8fb60757df48b", 2791900),
    ],
    ("medium", 4): [
        ("model.json", "6abcf2a497bb361a9b75afbab390a2bc0df88236c7b7c96edc1c2cdbdbec8e3c", 30051),
        ("group1-shard1of1.bin", "ed791214e78e498dd42ce5da0e16b78a1047732e5d99467aaead2a90cb566a69", 2818444),
    ],
    ("thick", 4): [
        ("model.json", "960433910ae4b2bff56d78a9d6dffc1289db3441bd67436c574b850dca429461", 193998),
        ("group1-shard1of7.bin", "c2f3147cabd7451ca3c93090c0a0284034a2e1356c0ca16f72d39c46ab7fc9ea", 4194304),
        ("group1-shard2of7.bin", "6340d34ef2a1bf7cf32d5fc456662e39f9872a51d500a10907b9313f6278eb16", 4194304),
        ("group1-shard3of7.bin", "3467d72b6b9297dcf175244bc3462074ff7ed5c44f8dc3ba7a52bc843a51ee88", 4194304),
        ("group1-shard4of7.bin", "c384e24ac8c11bd3e2a9211fcadc8a9077345cd780e59245e758b622f37c83ae", 4194304),
        ("group1-shard5of7.bin", "90a60275d08465ba206116731639d5d9c0c44102b7796c68d1346fa0d997eed0", 4194304),
        ("group1-shard6of7.bin", "1bfa5f625a7316030ac47b420e2a77b809bce28519d069c45cfa7567d223e524", 4194304),
        ("group1-shard7of7.bin", "349e03caf92240e7643f587f36501bd4826e55fa8dc334b29b17cf2699d341e3", 3877136),
    ],
}

# Theoretical receptive field (input px) from the layer list; overlap per side covers half of it
# for slim/medium. Thick's theoretical field (~309 px) is far beyond its effective one, so its
# overlap is the measured seam-free margin rather than the theoretical bound.
ESRGAN_FIELD = {"slim": (21, 16), "medium": (37, 24), "thick": (309, 32)}
ESRGAN_TILE = 128


def _esrgan(variant: str, scale: int) -> ModelSpec:
    package = f"@upscalerjs/esrgan-{variant}@1.0.0"
    field, overlap = ESRGAN_FIELD[variant]
    norm, value_range = (RGB_0_1, "0-1") if variant == "thick" else (RGB_0_255, "0-255")
    files = tuple(
        npm_file(f"esrgan-{variant}/x{scale}/{name}", sha, size, package, f"models/x{scale}/{name}")
        for name, sha, size in ESRGAN_FILES[(variant, scale)]
    )
    return ModelSpec(
        name=f"esrgan-{variant}-x{scale}",
        task="upscale",
        source_format="tfjs_layers",
        files=files,
        inputs=(TensorSpec("input", (1, ESRGAN_TILE, ESRGAN_TILE, 3), normalization=norm),),
        outputs=(
            TensorSpec(
                "output",
                (1, ESRGAN_TILE * scale, ESRGAN_TILE * scale, 3),
                normalization=norm,
                meaning=f"RGB {value_range} upscaled x{scale}",
            ),
        ),
        tile=TilePolicy("tile", ESRGAN_TILE, overlap, field),
        licence="MIT",
        description=f"ESRGAN {variant} x{scale} (UpscalerJS 1.0), RGB {value_range} in and out",
        upstream=f"npm {package}",
        scale=scale,
    )


for _variant, _scale in ESRGAN_FILES:
    register(_esrgan(_variant, _scale))

FSRCNN_COMMIT = "6a4812c4ef1c4f5947d79beafa32a05a6eb4a94d"
FSRCNN_FILES = {
    ("FSRCNN", 2): ("366b33f0084c7b3f2bf6724f0a2c77bca94fcec9d7b6d72389d330073b380d5c", 38973),
    ("FSRCNN", 3): ("efd38655a815908c6c8954db6052f128e76a735f1de657894c477d0dc0b64481", 40093),
    ("FSRCNN", 4): ("5c68d18db561aed8ead4ffedf1b897ea615baaf60ebf6c35f8e641f8fa4a21bf", 41661),
    ("FSRCNN-small", 2): ("429e4793d049c1ae16ddbbc322fd11c3c08831c0c20137390b4d098976a2b0d9", 9595),
    ("FSRCNN-small", 3): ("58e72d0c4231b8e754180e787d7348f45ae6230ee3c5af7dc12b558467f593f7", 10235),
    ("FSRCNN-small", 4): ("92a9f57c28494813b4dc073b51a300cb909401454d77541bcdc96b4d55901d02", 11131),
}
FSRCNN_TILE = 128


def _fsrcnn(kind: str, scale: int) -> ModelSpec:
    sha, size = FSRCNN_FILES[(kind, scale)]
    file_name = f"{kind}_x{scale}.pb"
    url = f"https://raw.githubusercontent.com/Saafke/FSRCNN_Tensorflow/{FSRCNN_COMMIT}/models/{file_name}"
    weights: WeightFile = url_file(f"upscale/{file_name}", sha, size, url, bundled=True)
    return ModelSpec(
        name=f"{kind.lower()}-x{scale}",
        task="upscale",
        source_format="frozen_pb",
        files=(weights,),
        # Open H/W: the graph is convolutions only, so the artifacts keep the spatial dims open
        # and the runtime runs a whole photo at its own size (parity is checked on tile-size
        # inputs); tiles of FSRCNN_TILE or more only past the memory budget.
        inputs=(TensorSpec("IteratorGetNext", (1, None, None, 1), normalization=LUMA_0_1),),
        outputs=(
            TensorSpec(
                "NHWC_output",
                (1, None, None, 1),
                normalization=LUMA_0_1,
                meaning=f"luma (BT.601 Y) 0-1 upscaled x{scale}; chroma is upscaled bicubically",
            ),
        ),
        # 5x5 feature extraction, 3x3 mapping, 9x9 deconvolution: ~17 input px of field.
        tile=TilePolicy("tile", FSRCNN_TILE, 12, 17),
        licence="Apache-2.0",
        description=f"{kind} x{scale} (TF1 frozen graph), luma channel only",
        upstream=f"github Saafke/FSRCNN_Tensorflow@{FSRCNN_COMMIT[:7]} models/{file_name}",
        scale=scale,
        # the fastest engine per CPU class is zoo/fastest_engines.json's to say (backend="auto")
    )


for _kind, _scale in FSRCNN_FILES:
    register(_fsrcnn(_kind, _scale))
