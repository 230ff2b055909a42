"""Architectures and their presets.

A preset fixes everything needed to rebuild a model and to feed it: the
builder's keyword arguments (JSON-safe, stored in a run's config.json) and the
input/sampling defaults the manifest records. New families (SlowFast, C2D,
MViT) register here with their own builder and presets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from torch import nn

from .x3d import create_x3d


@dataclass(frozen=True)
class Preset:
    kwargs: dict[str, Any]
    frames: int
    crop_size: int
    short_side_size: int
    # Seconds per clip and clips per video for evaluation: the manifest's plan.
    clip_duration: float
    clips_per_video: int
    description: str = ""
    # Training defaults (the CLI's flags override them).
    epochs: int = 30
    batch_size: int = 16
    lr: float = 1e-3


@dataclass(frozen=True)
class ModelFamily:
    build: Callable[..., nn.Module]
    presets: dict[str, Preset] = field(default_factory=dict)


def _x3d(**kwargs: Any) -> nn.Module:
    # Logits out: training uses cross-entropy and the exported graph must not
    # contain the softmax PyTorchVideo's default head applies.
    return create_x3d(**kwargs, head_activation=None)


def _x3d_preset(frames, crop, short_side, clip_duration, clips, description, train=None, **extra) -> Preset:
    kwargs = {"input_clip_length": frames, "input_crop_size": crop, **extra}
    return Preset(kwargs, frames, crop, short_side, clip_duration, clips, description, **(train or {}))


# The Kinetics presets follow PyTorchVideo's zoo: frames × sampling rate at
# 30 fps gives the clip duration (XS 4×12, S 13×6, M/L 16×5), 10 clips per video
# for evaluation (centre crop only), short side 182/182/256/356.
MODEL_REGISTRY: dict[str, ModelFamily] = {
    "x3d": ModelFamily(
        build=_x3d,
        presets={
            "xs": _x3d_preset(4, 160, 182, 1.6, 10, "X3D-XS, 3.79M params, 0.60 GMACs"),
            "s": _x3d_preset(13, 160, 182, 2.6, 10, "X3D-S, 3.79M params, 1.96 GMACs"),
            "m": _x3d_preset(16, 224, 256, 16 * 5 / 30, 10, "X3D-M, 3.79M params, 4.73 GMACs"),
            "l": _x3d_preset(16, 312, 356, 16 * 5 / 30, 10, "X3D-L, 6.15M params, 18.4 GMACs", depth_factor=5.0),
            # CPU-sized X3D for tests and CI: 8×64², trains on the synthetic
            # motion set in a couple of minutes on two cores.
            "tiny": _x3d_preset(
                8, 64, 72, 2.0, 1, "X3D-tiny for CPU work",
                width_factor=0.5, depth_factor=1.0, head_dim_out=128, dropout_rate=0.2,
            ),
        },
    ),
}


class UnknownModelError(ValueError):
    pass


def get_preset(arch: str, preset: str) -> Preset:
    family = MODEL_REGISTRY.get(arch)
    if family is None:
        raise UnknownModelError(f"unknown architecture {arch!r}; known: {', '.join(sorted(MODEL_REGISTRY))}")
    if preset not in family.presets:
        raise UnknownModelError(
            f"unknown preset {preset!r} for {arch}; known: {', '.join(family.presets)}"
        )
    return family.presets[preset]


def model_kwargs(arch: str, preset: str, num_classes: int) -> dict[str, Any]:
    """The builder's keyword arguments for this preset (JSON-safe)."""
    return {**get_preset(arch, preset).kwargs, "model_num_class": num_classes}


def build_model(arch: str, preset: str, num_classes: int) -> nn.Module:
    return MODEL_REGISTRY[arch].build(**model_kwargs(arch, preset, num_classes))


def build_from_config(config: dict[str, Any]) -> nn.Module:
    """Rebuilds a model from a run's config.json ({"arch", "modelKwargs", ...})."""
    arch = config["arch"]
    if arch not in MODEL_REGISTRY:
        raise UnknownModelError(f"unknown architecture {arch!r} in config")
    kwargs = dict(config["modelKwargs"])
    # JSON turns tuples into lists; the builders take sequences either way.
    return MODEL_REGISTRY[arch].build(**kwargs)
