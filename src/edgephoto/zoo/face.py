"""Faces: BlazeFace short-range detector and the 468-point face mesh (MediaPipe TFLite)."""

from __future__ import annotations

from edgephoto.zoo import register
from edgephoto.zoo.sources import pypi_file
from edgephoto.zoo.spec import ModelSpec, Normalization, TensorSpec, TilePolicy

SIGNED_UNIT_RGB = Normalization(mean=(127.5,), std=(127.5,), color="RGB")
UNIT_RGB = Normalization(mean=(0.0,), std=(255.0,), color="RGB")
# The default pipeline's face models come from the mediapipe wheel: pip alone is enough to run it.
MEDIAPIPE_WHEEL = "mediapipe==0.10.21"

register(
    ModelSpec(
        name="blazeface",
        task="face_detection",
        source_format="tflite",
        files=(
            pypi_file("mediapipe/modules/face_detection/face_detection_short_range.tflite", "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8", 229714, MEDIAPIPE_WHEEL, "mediapipe/modules/face_detection/face_detection_short_range.tflite"),
        ),
        inputs=(TensorSpec("input", (1, 128, 128, 3), normalization=SIGNED_UNIT_RGB),),
        outputs=(
            TensorSpec("regressors", (1, 896, 16), meaning="box (cx, cy, w, h) + 6 keypoints, in input px relative to anchors"),
            TensorSpec("classificators", (1, 896, 1), meaning="face logit per anchor"),
        ),
        tile=TilePolicy("whole", 128),
        licence="Apache-2.0",
        description="BlazeFace short-range face detector, 128x128, 896 SSD anchors",
        upstream=f"PyPI {MEDIAPIPE_WHEEL} mediapipe/modules/face_detection/face_detection_short_range.tflite",
        extra={"anchor_strides": (8, 16, 16, 16), "score_threshold": 0.5},
    )
)

register(
    ModelSpec(
        name="facemesh",
        task="face_landmarks",
        source_format="tflite",
        files=(
            pypi_file("mediapipe/face_landmark.tflite", "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814", 1242398, MEDIAPIPE_WHEEL, "mediapipe/modules/face_landmark/face_landmark.tflite"),
        ),
        inputs=(TensorSpec("input_1", (1, 192, 192, 3), normalization=UNIT_RGB),),
        outputs=(
            TensorSpec("conv2d_21", (1, 1, 1, 1404), meaning="468 landmarks (x, y, z) in input px"),
            TensorSpec("conv2d_31", (1, 1, 1, 1), meaning="face presence logit"),
        ),
        tile=TilePolicy("whole", 192),
        licence="Apache-2.0",
        description="MediaPipe face mesh, 468 3-D landmarks on a 192x192 face crop",
        upstream=f"PyPI {MEDIAPIPE_WHEEL} mediapipe/modules/face_landmark/face_landmark.tflite",
    )
)
