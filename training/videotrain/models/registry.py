"""Architectures and their presets.

A preset fixes everything needed to rebuild a model and to feed it: the
builder's keyword arguments (JSON-safe, stored in a run's config.json) and the
input/sampling defaults the manifest records. Each architecture (`--arch`)
has its model-zoo preset(s) and a `tiny` one: the same structure at CPU size
(64², 8 frames, 16 for SlowFast; under a million parameters) for tests and
smoke runs.

Every model takes one NCTHW clip. SlowFast's slow pathway is sampled inside
the network (see slowfast.py), so its input spec is the fast pathway's clip.

Training recipes (epochs, batch, learning rate, augmentation, test views) are
not here: they live in the preset files, training/presets/*.json (recipes.py),
which may also feed a preset another input size (`get_preset(..., frames=,
crop_size=)`: the builder's input-dependent arguments follow).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable

from torch import nn

from .mvit import create_mvit_v2_s
from .resnet import create_c2d
from .slowfast import create_slowfast
from .x3d import create_x3d

# PyTorchVideo's Kinetics normalization, also torchvision's for MViT (and the
# synthetic set's).
KINETICS_MEAN = (0.45, 0.45, 0.45)
KINETICS_STD = (0.225, 0.225, 0.225)


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
    mean: tuple[float, float, float] = KINETICS_MEAN
    std: tuple[float, float, float] = KINETICS_STD


@dataclass(frozen=True)
class ModelFamily:
    build: Callable[..., nn.Module]
    # The builder's arguments that follow the input size: (frames, crop) -> kwargs.
    input_kwargs: Callable[[int, int], dict[str, Any]]
    presets: dict[str, Preset] = field(default_factory=dict)
    # The builder's name for the class count (PyTorchVideo's or torchvision's).
    classes_kwarg: str = "model_num_class"
    # Input sizes the fixed head pools tile exactly.
    frames_multiple: int = 1
    crop_multiple: int = 1


def _x3d(**kwargs: Any) -> nn.Module:
    # Logits out: training uses cross-entropy and the exported graph must not
    # contain the softmax PyTorchVideo's default head applies.
    return create_x3d(**kwargs, head_activation=None)


def _x3d_input(frames: int, crop: int) -> dict[str, Any]:
    return {"input_clip_length": frames, "input_crop_size": crop}


def _c2d_input(frames: int, crop: int) -> dict[str, Any]:
    # Spatial stride 32 and the stage-1 pool halves the frames: the head's
    # fixed pool covers the final feature map at this input size.
    return {"head_pool_kernel_size": (frames // 2, crop // 32, crop // 32)}


SLOWFAST_ALPHA = 4  # create_slowfast's fusion stride: the slow pathway sees frames / 4


def _slowfast_input(frames: int, crop: int) -> dict[str, Any]:
    return {
        "input_clip_length": frames,
        "head_pool_kernel_sizes": ((frames // SLOWFAST_ALPHA, crop // 32, crop // 32), (frames, crop // 32, crop // 32)),
    }


def _mvit_input(frames: int, crop: int) -> dict[str, Any]:
    return {"temporal_size": frames, "spatial_size": crop}


def _preset(input_kwargs, frames, crop, short_side, clip_duration, clips, description, **extra) -> Preset:
    return Preset({**input_kwargs(frames, crop), **extra}, frames, crop, short_side, clip_duration, clips, description)


# Zoo sampling "frames × rate" at 30 fps: 8×8 and 16×4 both span 64 frames.
ZOO_CLIP_SECONDS = 64 / 30

# The Kinetics presets follow the zoos. X3D (PyTorchVideo): frames × sampling
# rate at 30 fps gives the clip duration (XS 4×12, S 13×6, M/L 16×5), 10 clips
# per video for evaluation (centre crop only), short side 182/182/256/356.
# C2D and SlowFast R50 8×8 (PyTorchVideo): trained at 224², short side 256, 10
# clips. MViTv2-S 16×4 (torchvision): 224², 5 clips.
MODEL_REGISTRY: dict[str, ModelFamily] = {
    "x3d": ModelFamily(
        build=_x3d,
        input_kwargs=_x3d_input,
        presets={
            "xs": _preset(_x3d_input, 4, 160, 182, 1.6, 10, "X3D-XS, 3.79M params, 0.60 GMACs"),
            "s": _preset(_x3d_input, 13, 160, 182, 2.6, 10, "X3D-S, 3.79M params, 1.96 GMACs"),
            "m": _preset(_x3d_input, 16, 224, 256, 16 * 5 / 30, 10, "X3D-M, 3.79M params, 4.73 GMACs"),
            "l": _preset(_x3d_input, 16, 312, 356, 16 * 5 / 30, 10, "X3D-L, 6.15M params, 18.4 GMACs", depth_factor=5.0),
            # CPU-sized X3D for tests and CI: 8×64², trains on the synthetic
            # motion set in a couple of minutes on two cores.
            "tiny": _preset(_x3d_input,
                8, 64, 72, 2.0, 1, "X3D-tiny for CPU work",
                width_factor=0.5, depth_factor=1.0, head_dim_out=128, dropout_rate=0.2,
            ),
        },
    ),
    "c2d_r50": ModelFamily(
        build=create_c2d,
        input_kwargs=_c2d_input,
        frames_multiple=2,
        crop_multiple=32,
        presets={
            "8x8": _preset(_c2d_input, 8, 224, 256, ZOO_CLIP_SECONDS, 10, "C2D-R50 8x8, 24.33M params, 19.5 GMACs"),
            "tiny": _preset(_c2d_input, 8, 64, 72, 2.0, 1, "C2D for CPU work", model_depth=18, stem_dim_out=8, dropout_rate=0.2),
        },
    ),
    "slowfast_r50": ModelFamily(
        build=create_slowfast,
        input_kwargs=_slowfast_input,
        frames_multiple=SLOWFAST_ALPHA,
        crop_multiple=32,
        presets={
            "8x8": _preset(_slowfast_input,
                32, 224, 256, ZOO_CLIP_SECONDS, 10, "SlowFast-R50 8x8 (32 input frames), 34.57M params, 50.3 GMACs"
            ),
            # 16 frames, so the slow pathway's 4 are at least its 3-frame
            # temporal kernels (with 2, torch 2.13's CPU bf16 conv3d backward
            # returns NaN weight gradients).
            "tiny": _preset(_slowfast_input,
                16, 64, 72, 2.0, 1, "SlowFast for CPU work", model_depth=18, stem_dim_outs=(16, 2), dropout_rate=0.2
            ),
        },
    ),
    "mvit_v2_s": ModelFamily(
        build=create_mvit_v2_s,
        input_kwargs=_mvit_input,
        classes_kwarg="num_classes",
        presets={
            "16x4": _preset(_mvit_input,
                16, 224, 256, ZOO_CLIP_SECONDS, 5, "MViTv2-S 16x4, 34.54M params, 64.2 GMACs",
            ),
            "tiny": _preset(_mvit_input,
                8, 64, 72, 2.0, 1, "MViTv2 for CPU work",
                embed_dim=16, stage_depths=(1, 1, 1, 1), kv_stride=(1, 4, 4), stochastic_depth_prob=0.0, dropout=0.2,
            ),
        },
    ),
}


class UnknownModelError(ValueError):
    pass


def get_preset(arch: str, preset: str, **input: Any) -> Preset:
    """The registered preset; input (frames, crop_size, short_side_size,
    clip_duration, clips_per_video; None: the preset's) feeds it another input."""
    family = MODEL_REGISTRY.get(arch)
    if family is None:
        raise UnknownModelError(f"unknown architecture {arch!r}; known: {', '.join(sorted(MODEL_REGISTRY))}")
    if preset not in family.presets:
        raise UnknownModelError(
            f"unknown preset {preset!r} for {arch}; known: {', '.join(family.presets)}"
        )
    p = family.presets[preset]
    changes = {k: v for k, v in input.items() if v is not None}
    if not changes:
        return p
    p = replace(p, **changes)
    if p.frames % family.frames_multiple or p.crop_size % family.crop_multiple:
        raise UnknownModelError(
            f"{arch}: frames must be a multiple of {family.frames_multiple} and the crop of {family.crop_multiple} "
            f"(its head pools tile the final feature map), got {p.frames} frames at {p.crop_size}"
        )
    if p.crop_size > p.short_side_size:
        raise UnknownModelError(f"{arch}: the crop ({p.crop_size}) must fit the short side ({p.short_side_size})")
    return replace(p, kwargs={**p.kwargs, **family.input_kwargs(p.frames, p.crop_size)})


def model_kwargs(arch: str, preset: str, num_classes: int, **input: Any) -> dict[str, Any]:
    """The builder's keyword arguments for this preset (JSON-safe)."""
    return {**get_preset(arch, preset, **input).kwargs, MODEL_REGISTRY[arch].classes_kwarg: num_classes}


def build_model(arch: str, preset: str, num_classes: int, **input: Any) -> nn.Module:
    return MODEL_REGISTRY[arch].build(**model_kwargs(arch, preset, num_classes, **input))


def build_from_config(config: dict[str, Any]) -> nn.Module:
    """Rebuilds a model from a run's config.json ({"arch", "modelKwargs", ...})."""
    arch = config["arch"]
    if arch not in MODEL_REGISTRY:
        raise UnknownModelError(f"unknown architecture {arch!r} in config")
    kwargs = dict(config["modelKwargs"])
    # JSON turns tuples into lists; the builders take sequences either way.
    return MODEL_REGISTRY[arch].build(**kwargs)
