"""Video transforms with PyTorchVideo's names and semantics, on (C, T, H, W) tensors.

eval_transform() is exactly what the Worker does to a clip (scale to [0, 1],
short side to shortSideSize, centre crop, normalize), so keep it exact and in
sync with the serving code. Deliberate differences from PyTorchVideo, both to
match the TypeScript side bit for bit:
- UniformTemporalSubsample picks floor(i·(m−1)/(T−1)) in integer arithmetic
  (PyTorchVideo rounds a float linspace, which can differ by one frame);
- ShortSideScale computes the long side as floor(long·size/short) in integer
  arithmetic (PyTorchVideo's floor((long/short)·size) in floats can be one less
  when the exact result is an integer).
Random transforms draw from torch's global RNG, like PyTorchVideo's.
RandAugment (rand_augment.py) and the batch mixers MixUp, CutMix and
MixVideo (mix.py) live in their own modules and are re-exported here.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from videotrain.mix import CutMix, MixUp, MixVideo, smooth_one_hot
from videotrain.rand_augment import RandAugment
from videotrain.sampling import uniform_indices


def _check_video(x: torch.Tensor, name: str) -> None:
    if x.dim() != 4:
        raise ValueError(f"{name} expects a (C, T, H, W) tensor, got shape {tuple(x.shape)}")


def _randint(low: int, high: int) -> int:
    """Uniform integer in [low, high] from torch's global RNG."""
    return int(torch.randint(low, high + 1, (1,)).item())


class Compose:
    def __init__(self, transforms: Sequence[Callable]):
        self.transforms = list(transforms)

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        return "Compose(" + ", ".join(map(repr, self.transforms)) + ")"


class ApplyTransformToKey:
    """Apply `transform` to item[key] of a dict item, leaving the other keys (PyTorchVideo's name)."""

    def __init__(self, key: str, transform: Callable):
        self.key, self.transform = key, transform

    def __call__(self, item: dict) -> dict:
        return {**item, self.key: self.transform(item[self.key])}

    def __repr__(self) -> str:
        return f"ApplyTransformToKey({self.key!r}, {self.transform!r})"


class UniformTemporalSubsample:
    """num_samples frames spread evenly over T: indices floor(i·(T−1)/(num_samples−1))."""

    def __init__(self, num_samples: int):
        if num_samples < 1:
            raise ValueError(f"num_samples must be >= 1, got {num_samples}")
        self.num_samples = num_samples

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        _check_video(x, "UniformTemporalSubsample")
        idx = torch.tensor(uniform_indices(x.shape[1], self.num_samples), dtype=torch.long)
        return x.index_select(1, idx)

    def __repr__(self) -> str:
        return f"UniformTemporalSubsample({self.num_samples})"


def short_side_scale_size(height: int, width: int, size: int) -> tuple[int, int]:
    """(new_h, new_w): the short side becomes `size`, the long side floor(long·size/short)."""
    if width < height:
        return (height * size) // width, size
    return size, (width * size) // height


class ShortSideScale:
    """Bilinear resize (align_corners=False, no antialias) of the short side to `size`."""

    def __init__(self, size: int):
        self.size = size

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        _check_video(x, "ShortSideScale")
        if not x.is_floating_point():
            raise TypeError(f"ShortSideScale needs a float tensor (apply Div255 first), got {x.dtype}")
        h, w = x.shape[-2:]
        # (C, T, H, W) is read by interpolate as batch C, channels T: a 2-D resize of every frame.
        return F.interpolate(x, size=short_side_scale_size(h, w, self.size), mode="bilinear", align_corners=False, antialias=False)

    def __repr__(self) -> str:
        return f"ShortSideScale({self.size})"


class RandomShortSideScale:
    """ShortSideScale to a size drawn uniformly from [min_size, max_size]."""

    def __init__(self, min_size: int, max_size: int):
        if not 1 <= min_size <= max_size:
            raise ValueError(f"need 1 <= min_size <= max_size, got {min_size}, {max_size}")
        self.min_size, self.max_size = min_size, max_size

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return ShortSideScale(_randint(self.min_size, self.max_size))(x)

    def __repr__(self) -> str:
        return f"RandomShortSideScale({self.min_size}, {self.max_size})"


def _crop(x: torch.Tensor, size: int, y: int, x0: int) -> torch.Tensor:
    return x[..., y : y + size, x0 : x0 + size]


def _check_crop(x: torch.Tensor, size: int, name: str) -> tuple[int, int]:
    _check_video(x, name)
    h, w = x.shape[-2:]
    if size > h or size > w:
        raise ValueError(f"{name}({size}) does not fit a {w}x{h} frame")
    return h, w


class CenterCrop:
    """size×size crop at offsets ceil((H−size)/2), ceil((W−size)/2), as PyTorchVideo's uniform_crop."""

    def __init__(self, size: int):
        self.size = size

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        h, w = _check_crop(x, self.size, "CenterCrop")
        return _crop(x, self.size, (h - self.size + 1) // 2, (w - self.size + 1) // 2)

    def __repr__(self) -> str:
        return f"CenterCrop({self.size})"


class RandomCrop:
    """size×size crop at a uniformly random position."""

    def __init__(self, size: int):
        self.size = size

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        h, w = _check_crop(x, self.size, "RandomCrop")
        return _crop(x, self.size, _randint(0, h - self.size), _randint(0, w - self.size))

    def __repr__(self) -> str:
        return f"RandomCrop({self.size})"


class RandomHorizontalFlip:
    """Mirror the frames with probability p.

    Mirroring also mirrors motion: left becomes right, clockwise becomes
    counter-clockwise. Never use this plain form with direction-sensitive
    labels; use HorizontalFlipWithLabel instead.
    """

    def __init__(self, p: float = 0.5):
        self.p = p

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        _check_video(x, "RandomHorizontalFlip")
        return x.flip(-1) if torch.rand(()).item() < self.p else x

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


class HorizontalFlipWithLabel:
    """(video, label) -> (video, label): mirror with probability p and map the label through label_permutation.

    For the synthetic motion classes pass
    videotrain.data.synthetic.HFLIP_LABEL_PERMUTATION (left<->right, cw<->ccw).
    """

    def __init__(self, label_permutation: Sequence[int], p: float = 0.5):
        perm = list(label_permutation)
        if sorted(perm) != list(range(len(perm))):
            raise ValueError(f"label_permutation must be a permutation of 0..{len(perm) - 1}, got {perm}")
        self.label_permutation, self.p = perm, p

    def __call__(self, x: torch.Tensor, label: int) -> tuple[torch.Tensor, int]:
        _check_video(x, "HorizontalFlipWithLabel")
        if torch.rand(()).item() < self.p:
            return x.flip(-1), self.label_permutation[label]
        return x, label

    def __repr__(self) -> str:
        return f"HorizontalFlipWithLabel({self.label_permutation}, p={self.p})"


class Div255:
    """uint8 [0, 255] -> float32 [0, 1]."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x.to(torch.float32) / 255.0

    def __repr__(self) -> str:
        return "Div255()"


class Normalize:
    """(x − mean) / std per channel (dim 0), on floats in [0, 1]."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        if len(mean) != len(std) or any(s <= 0 for s in std):
            raise ValueError(f"need as many means as stds and every std > 0, got mean={list(mean)} std={list(std)}")
        self.mean, self.std = [float(m) for m in mean], [float(s) for s in std]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        _check_video(x, "Normalize")
        if x.shape[0] != len(self.mean):
            raise ValueError(f"Normalize has {len(self.mean)} channels, the video {x.shape[0]}")
        mean = torch.tensor(self.mean, dtype=x.dtype).view(-1, 1, 1, 1)
        std = torch.tensor(self.std, dtype=x.dtype).view(-1, 1, 1, 1)
        return (x - mean) / std

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean}, std={self.std})"


def eval_transform(input_spec: dict) -> Compose:
    """The serving pipeline from a manifest `input` dict: Div255, ShortSideScale, CenterCrop, Normalize."""
    return Compose(
        [
            Div255(),
            ShortSideScale(int(input_spec["shortSideSize"])),
            CenterCrop(int(input_spec["cropSize"])),
            Normalize(input_spec["mean"], input_spec["std"]),
        ]
    )


def train_transform(
    input_spec: dict,
    *,
    min_short_side: int | None = None,
    max_short_side: int | None = None,
    rand_augment: RandAugment | None = None,
) -> Compose:
    """Training augmentation from a manifest `input` dict: Div255, RandomShortSideScale, RandomCrop,
    [RandAugment,] Normalize.

    The short side is drawn from [min_short_side, max_short_side], by default
    [shortSideSize, 1.25·shortSideSize] (PyTorchVideo's Kinetics recipe is
    256–320 for a 256 eval side). RandAugment, when given, runs on the crop
    (fewer pixels) while values are still in [0, 1]. No horizontal flip: it
    changes the meaning of direction-sensitive labels (see HorizontalFlipWithLabel).
    """
    short = int(input_spec["shortSideSize"])
    crop = int(input_spec["cropSize"])
    lo = short if min_short_side is None else min_short_side
    hi = (short * 5) // 4 if max_short_side is None else max_short_side
    if lo < crop:
        raise ValueError(f"min_short_side ({lo}) is smaller than cropSize ({crop})")
    augment = [] if rand_augment is None else [rand_augment]
    return Compose([Div255(), RandomShortSideScale(lo, hi), RandomCrop(crop), *augment, Normalize(input_spec["mean"], input_spec["std"])])


__all__ = [
    "ApplyTransformToKey",
    "CenterCrop",
    "Compose",
    "CutMix",
    "Div255",
    "HorizontalFlipWithLabel",
    "MixUp",
    "MixVideo",
    "Normalize",
    "RandAugment",
    "RandomCrop",
    "RandomHorizontalFlip",
    "RandomShortSideScale",
    "ShortSideScale",
    "UniformTemporalSubsample",
    "eval_transform",
    "short_side_scale_size",
    "smooth_one_hot",
    "train_transform",
]
