"""Registers every task (imported lazily by TASKS, so task modules load only when asked)."""

from __future__ import annotations

from edgephoto.runtime.tasks import TASKS, TaskInfo
from edgephoto.runtime.tasks.depth import estimate_depth
from edgephoto.runtime.tasks.face import detect_faces, face_landmarks
from edgephoto.runtime.tasks.matting import matte
from edgephoto.runtime.tasks.segmentation import segment
from edgephoto.runtime.tasks.upscale import upscale

TASKS.add("upscale", TaskInfo("upscale", upscale, "uint8 (H*s, W*s, 3) photo"))
TASKS.add("depth", TaskInfo("depth", estimate_depth, "DepthResult: float32 (H, W) depth + global pass"))
TASKS.add("segmentation", TaskInfo("segmentation", segment, "float32 (H, W) person probability 0..1"))
TASKS.add("matting", TaskInfo("matting", matte, "float32 (H, W) alpha 0..1"))
TASKS.add("face_detection", TaskInfo("face_detection", detect_faces, "list[Face] in photo px"))
TASKS.add("face_landmarks", TaskInfo("face_landmarks", face_landmarks, "Landmarks (468, 3) in photo px"))
