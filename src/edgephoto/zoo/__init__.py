"""The model zoo: a registry of ModelSpec entries, one module per task family."""

from __future__ import annotations

from edgephoto.registry import Registry
from edgephoto.zoo.spec import ModelSpec

MODELS: Registry[ModelSpec] = Registry(
    "model",
    modules=(
        "edgephoto.zoo.upscale",
        "edgephoto.zoo.realesrgan",
        "edgephoto.zoo.segmentation",
        "edgephoto.zoo.depth",
        "edgephoto.zoo.matting",
        "edgephoto.zoo.face",
    ),
)


def register(spec: ModelSpec) -> ModelSpec:
    """Add a zoo entry (raises if the name is taken)."""
    return MODELS.add(spec.name, spec)


def get_model(name: str) -> ModelSpec:
    return MODELS.get(name)


def all_models(*, include_restricted: bool = False) -> list[ModelSpec]:
    """Every entry; non-permissive ones only when asked (they are opt-in)."""
    return [m for _, m in MODELS if include_restricted or m.permissive]
