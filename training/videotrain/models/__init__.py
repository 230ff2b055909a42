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
from .mvit import create_mvit_v2_s
from .resnet import create_c2d, create_resnet
from .slowfast import create_slowfast
from .x3d import Swish, create_x3d

__all__ = [
    "MODEL_REGISTRY",
    "ModelFamily",
    "Preset",
    "Swish",
    "UnknownModelError",
    "build_from_config",
    "build_model",
    "create_c2d",
    "create_mvit_v2_s",
    "create_resnet",
    "create_slowfast",
    "create_x3d",
    "get_preset",
    "model_kwargs",
]
