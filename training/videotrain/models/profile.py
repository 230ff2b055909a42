"""Parameter and multiply-add counts, the way model zoos report them.

What the zoos call "GFLOPs" for these models are multiply-adds (one per
multiply-accumulate) of convolutions, linear layers and matrix products, at
the evaluation input size:
- PyTorchVideo / PySlowFast (fvcore): SlowFast-R50 8×8 65.71 = MACs at
  32×256² exactly. Its C2D-R50 entry (25.89 at 8×256²) also counts BatchNorm
  the way fvcore does for a model in training mode, 5 per output element
  (MACs alone: 25.46); `batchnorm_flops=5` reproduces that.
- torchvision (a dispatch-level counter of conv, mm, addmm, bmm): MViTv2-S
  64.22 = MACs at 16×224², attention products and relative-position einsums
  included.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, input_shape: tuple[int, ...], *, batchnorm_flops: int = 0) -> int:
    """Multiply-adds for one input of `input_shape` (C, T, H, W): every
    convolution, matrix multiply (linear layers, attention's q·kᵀ and
    attention·v, einsum) as counted by torch's FlopCounterMode, halved (it
    counts a multiply-add as two). Optionally `batchnorm_flops` per BatchNorm
    output element. Runs on a meta-device copy: shapes only, no arithmetic, so
    even the largest zoo model costs nothing to count."""
    meta = copy.deepcopy(model).to("meta").eval()
    norm_elements = 0

    def norm_hook(_m: nn.Module, _inp, out: torch.Tensor) -> None:
        nonlocal norm_elements
        norm_elements += out.numel()

    if batchnorm_flops:
        for m in meta.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.register_forward_hook(norm_hook)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        meta(torch.empty((1, *input_shape), device="meta"))
    return counter.get_total_flops() // 2 + batchnorm_flops * norm_elements
