from .registry import (
    MODEL_REGISTRY,
    ModelFamily,
    Preset,
    UnknownModelError,
    build_from_config,
    build_model,
    get_preset,
    model_kwargs,
)
from .x3d import Swish, create_x3d

__all__ = [
    "MODEL_REGISTRY",
    "ModelFamily",
    "Preset",
    "Swish",
    "UnknownModelError",
    "build_from_config",
    "build_model",
    "create_x3d",
    "get_preset",
    "model_kwargs",
]
