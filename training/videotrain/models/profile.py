"""Parameter and multiply-add counts, the way model zoos report them."""

from __future__ import annotations

import copy

import torch
from torch import nn


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-adds of Conv3d and Linear layers for one input of `input_shape`
    (C, T, H, W). Runs on a meta-device copy: shapes only, no arithmetic, so
    even X3D-L costs nothing to count."""
    meta = copy.deepcopy(model).to("meta").eval()
    total = 0

    def conv_hook(m: nn.Conv3d, _inp, out: torch.Tensor) -> None:
        nonlocal total
        k = m.kernel_size[0] * m.kernel_size[1] * m.kernel_size[2]
        total += out.numel() * (m.in_channels // m.groups) * k

    def linear_hook(m: nn.Linear, _inp, out: torch.Tensor) -> None:
        nonlocal total
        total += out.numel() * m.in_features

    for m in meta.modules():
        if isinstance(m, nn.Conv3d):
            m.register_forward_hook(conv_hook)
        elif isinstance(m, nn.Linear):
            m.register_forward_hook(linear_hook)
    with torch.no_grad():
        meta(torch.empty((1, *input_shape), device="meta"))
    return total
