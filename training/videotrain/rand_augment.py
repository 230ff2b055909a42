"""RandAugment for video, after PyTorchVideo's RandAugment (without torchvision).

Same operations, magnitude mapping and sampling as PyTorchVideo: num_layers
distinct operations out of 14, each applied with probability `prob` at a
magnitude drawn from N(magnitude, 0.5) clipped to [0, 10]. The operation and
its parameters are drawn once per clip, so every frame of a clip gets the same
operation (statistics such as the contrast mean or the autocontrast range are
per frame, as torchvision computes them on a batch of images).

Input: a float (C, T, H, W) clip with values in [0, 1] (after Div255, before
Normalize); the output stays in [0, 1]. Random draws come from torch's global
RNG, like PyTorchVideo's.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

MAX_LEVEL = 10.0  # PyTorchVideo's _AUGMENTATION_MAX_LEVEL
FILL = 0.5  # value of pixels that geometric operations bring in from outside the frame
_GRAY = (0.2989, 0.587, 0.114)  # ITU-R 601 luma, as torchvision's rgb_to_grayscale


# Frames are handled as a batch of images: v is (T, C, H, W), float in [0, 1].


def _gray(v: torch.Tensor) -> torch.Tensor:
    r, g, b = v.unbind(1)
    return (_GRAY[0] * r + _GRAY[1] * g + _GRAY[2] * b).unsqueeze(1)


def _blend(v: torch.Tensor, other: torch.Tensor, factor: float) -> torch.Tensor:
    return (factor * v + (1.0 - factor) * other).clamp(0.0, 1.0)


def _to_uint8(v: torch.Tensor) -> torch.Tensor:
    # Truncation, as PyTorchVideo's (video * 255).to(torch.uint8).
    return (v * 255).to(torch.uint8)


def adjust_brightness(v: torch.Tensor, factor: float) -> torch.Tensor:
    return _blend(v, torch.zeros_like(v), factor)


def adjust_contrast(v: torch.Tensor, factor: float) -> torch.Tensor:
    mean = _gray(v).mean(dim=(-3, -2, -1), keepdim=True)  # one mean per frame
    return _blend(v, mean, factor)


def adjust_saturation(v: torch.Tensor, factor: float) -> torch.Tensor:
    return _blend(v, _gray(v), factor)


def adjust_sharpness(v: torch.Tensor, factor: float) -> torch.Tensor:
    # Blend with a smoothed copy (PIL's SMOOTH kernel); the 1-pixel border keeps its values.
    t, c, h, w = v.shape
    if h <= 2 or w <= 2:
        return v
    kernel = torch.ones(3, 3, dtype=v.dtype, device=v.device)
    kernel[1, 1] = 5.0
    kernel = (kernel / kernel.sum()).expand(c, 1, 3, 3)
    smooth = v.clone()
    smooth[..., 1:-1, 1:-1] = F.conv2d(v, kernel, groups=c)
    return _blend(v, smooth, factor)


def autocontrast(v: torch.Tensor) -> torch.Tensor:
    lo = v.amin(dim=(-2, -1), keepdim=True)
    hi = v.amax(dim=(-2, -1), keepdim=True)
    flat = hi == lo  # a constant channel stays as it is
    scale = torch.where(flat, torch.ones_like(hi), 1.0 / (hi - lo))
    lo = torch.where(flat, torch.zeros_like(lo), lo)
    return ((v - lo) * scale).clamp(0.0, 1.0)


def _equalize_channel(x: torch.Tensor) -> torch.Tensor:
    # PIL's ImageOps.equalize on one uint8 channel: a lookup table from the
    # cumulative histogram, with the step computed without the last used level.
    hist = torch.bincount(x.flatten().long(), minlength=256)
    used = hist[hist != 0]
    step = int(used[:-1].sum()) // 255
    if step == 0:
        return x
    lut = (torch.cumsum(hist, 0) + step // 2) // step
    lut = torch.cat([lut.new_zeros(1), lut[:-1]]).clamp(0, 255)
    return lut[x.long()].to(torch.uint8)


def equalize(v: torch.Tensor) -> torch.Tensor:
    u = _to_uint8(v)
    t, c = u.shape[:2]
    out = torch.stack([torch.stack([_equalize_channel(u[i, j]) for j in range(c)]) for i in range(t)])
    return (out / 255.0).to(v.dtype)


def invert(v: torch.Tensor) -> torch.Tensor:
    return 1.0 - v


def posterize(v: torch.Tensor, bits: int) -> torch.Tensor:
    if bits >= 8:
        return v
    mask = 256 - 2 ** (8 - bits)  # keep the top `bits` bits
    return ((_to_uint8(v) & mask) / 255.0).to(v.dtype)


def solarize(v: torch.Tensor, threshold: float) -> torch.Tensor:
    return torch.where(v >= threshold, 1.0 - v, v)


def affine(v: torch.Tensor, matrix: tuple[float, float, float, float, float, float]) -> torch.Tensor:
    """Bilinear resampling where output pixel (x, y), in pixel units from the
    frame centre, reads input pixel (a·x + b·y + c, d·x + e·y + f): torchvision's
    convention for the matrices PyTorchVideo passes. Outside pixels are FILL."""
    t, c, h, w = v.shape
    a, b, cx, d, e, fy = matrix
    xs = torch.arange(w, dtype=v.dtype, device=v.device) + 0.5 - w / 2
    ys = torch.arange(h, dtype=v.dtype, device=v.device) + 0.5 - h / 2
    y, x = torch.meshgrid(ys, xs, indexing="ij")
    # Input coordinates, normalized so that ±1 are the frame's outer edges (align_corners=False).
    gx = (a * x + b * y + cx) / (w / 2)
    gy = (d * x + e * y + fy) / (h / 2)
    grid = torch.stack([gx, gy], dim=-1).expand(t, h, w, 2)
    # A channel of ones tells how much of each output pixel came from inside the frame.
    ones = torch.ones(t, 1, h, w, dtype=v.dtype, device=v.device)
    out = F.grid_sample(torch.cat([v, ones], 1), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    inside = out[:, -1:]
    return out[:, :-1] * inside + (1.0 - inside) * FILL


def rotate(v: torch.Tensor, degrees: float) -> torch.Tensor:
    """Counter-clockwise rotation about the frame centre."""
    r = math.radians(degrees)
    return affine(v, (math.cos(r), -math.sin(r), 0.0, math.sin(r), math.cos(r), 0.0))


def shear_x(v: torch.Tensor, factor: float) -> torch.Tensor:
    # PyTorchVideo offsets by H·factor/2 (sic: the height) along x.
    return affine(v, (1.0, factor, v.shape[-2] * factor / 2, 0.0, 1.0, 0.0))


def shear_y(v: torch.Tensor, factor: float) -> torch.Tensor:
    return affine(v, (1.0, 0.0, 0.0, factor, 1.0, v.shape[-1] * factor / 2))


def translate_x(v: torch.Tensor, factor: float) -> torch.Tensor:
    """Content moves left by factor·W pixels (right for a negative factor)."""
    return affine(v, (1.0, 0.0, factor * v.shape[-1], 0.0, 1.0, 0.0))


def translate_y(v: torch.Tensor, factor: float) -> torch.Tensor:
    return affine(v, (1.0, 0.0, 0.0, 0.0, 1.0, factor * v.shape[-2]))


def _signed(level: float, base: float, span: float) -> float:
    # PyTorchVideo's _increasing_randomly_negate_to_arg: base ± level/10·span, sign by a coin.
    m = level / MAX_LEVEL * span
    return base + (m if torch.rand(1).item() > 0.5 else -m)


# name -> (operation, level -> its argument or None); PyTorchVideo's order and ranges.
OPS = {
    "AdjustBrightness": (adjust_brightness, lambda lv: _signed(lv, 1.0, 0.9)),
    "AdjustContrast": (adjust_contrast, lambda lv: _signed(lv, 1.0, 0.9)),
    "AdjustSaturation": (adjust_saturation, lambda lv: _signed(lv, 1.0, 0.9)),
    "AdjustSharpness": (adjust_sharpness, lambda lv: _signed(lv, 1.0, 0.9)),
    "AutoContrast": (autocontrast, None),
    "Equalize": (equalize, None),
    "Invert": (invert, None),
    "Rotate": (rotate, lambda lv: _signed(lv, 0.0, 30.0)),
    "Posterize": (posterize, lambda lv: 4 - int(lv / MAX_LEVEL * 4)),
    "Solarize": (solarize, lambda lv: 1.0 - lv / MAX_LEVEL),
    "ShearX": (shear_x, lambda lv: _signed(lv, 0.0, 0.3)),
    "ShearY": (shear_y, lambda lv: _signed(lv, 0.0, 0.3)),
    "TranslateX": (translate_x, lambda lv: _signed(lv, 0.0, 0.45)),
    "TranslateY": (translate_y, lambda lv: _signed(lv, 0.0, 0.45)),
}
OP_NAMES = list(OPS)


class RandAugment:
    """PyTorchVideo's RandAugment(magnitude, num_layers, prob, sampling_type) on (C, T, H, W) clips.

    sampling_type "gaussian": level ~ N(magnitude, sampling_std) clipped to
    [0, 10]; "uniform": an integer level in [0, magnitude].
    """

    def __init__(
        self,
        magnitude: float = 9,
        num_layers: int = 2,
        prob: float = 0.5,
        sampling_type: str = "gaussian",
        sampling_std: float = 0.5,
    ):
        if not 1 <= num_layers <= len(OPS):
            raise ValueError(f"num_layers must be in [1, {len(OPS)}], got {num_layers}")
        if not 0 <= magnitude <= MAX_LEVEL:
            raise ValueError(f"magnitude must be in [0, {MAX_LEVEL:g}], got {magnitude}")
        if not 0 <= prob <= 1:
            raise ValueError(f"prob must be in [0, 1], got {prob}")
        if sampling_type not in ("gaussian", "uniform"):
            raise ValueError(f"sampling_type must be 'gaussian' or 'uniform', got {sampling_type!r}")
        self.magnitude, self.num_layers, self.prob = magnitude, num_layers, prob
        self.sampling_type, self.sampling_std = sampling_type, sampling_std

    def _level(self) -> float:
        if self.sampling_type == "gaussian":
            drawn = torch.normal(float(self.magnitude), self.sampling_std, size=(1,)).item()
            return max(0.0, min(MAX_LEVEL, drawn))
        return float(torch.randint(0, int(self.magnitude) + 1, (1,)).item())

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[0] != 3:
            raise ValueError(f"RandAugment expects an RGB (3, T, H, W) clip, got shape {tuple(x.shape)}")
        if not x.is_floating_point():
            raise TypeError(f"RandAugment needs floats in [0, 1] (apply Div255 first), got {x.dtype}")
        v = x.permute(1, 0, 2, 3)  # (T, C, H, W): the frames as a batch of images
        # num_layers distinct operations, uniformly (PyTorchVideo's OpSampler without replacement).
        for i in torch.multinomial(torch.ones(len(OPS)), self.num_layers, replacement=False).tolist():
            if torch.rand(1).item() > self.prob:
                continue
            op, level_to_arg = OPS[OP_NAMES[i]]
            level = self._level()
            v = op(v) if level_to_arg is None else op(v, level_to_arg(level))
        return v.permute(1, 0, 2, 3).contiguous()

    def __repr__(self) -> str:
        return (
            f"RandAugment(magnitude={self.magnitude}, num_layers={self.num_layers}, prob={self.prob}, "
            f"sampling_type={self.sampling_type!r})"
        )
