"""Grad-CAM (Selvaraju et al., arXiv:1610.02391) over space and time.

For class k and a layer's features A (C, T, H, W): w_c = mean over (T, H, W)
of d logit_k / d A_c, map = ReLU(Σ_c w_c A_c). With several pathways each
gets its map; the combined map sums them on the finest time axis, a coarse
cell's value shared by the cells it covers, so every map keeps summing to
its pathway's first-order share of the logit.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .features import LayerCapture, on_finest_time_axis


@dataclass(frozen=True)
class Explanation:
    logits: torch.Tensor  # (B, K)
    pathways: list[torch.Tensor]  # per pathway (B, T_p, H, W), unnormalised
    map: torch.Tensor  # (B, T, H, W) on the finest time axis, unnormalised


def channel_weights(grad: torch.Tensor) -> torch.Tensor:
    """(B, C, T, H, W) gradient -> (B, C): its mean over time and space."""
    return grad.mean(dim=(2, 3, 4))


def weighted_map(features: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Σ_c w_c A_c: (B, C, T, H, W), (B, C) -> (B, T, H, W), before the ReLU."""
    return torch.einsum("bcthw,bc->bthw", features, weights)


def grad_cam(model: nn.Module, clips: torch.Tensor, layer: str, class_index: int) -> Explanation:
    """Grad-CAM of class `class_index` at `layer` for (B, C, T, H, W) clips (the model in eval mode)."""
    with LayerCapture(model, layer) as capture, torch.enable_grad():
        logits = model(clips)
        # Summed over the batch: in eval mode each clip's gradient is its own.
        capture.backward(logits[:, class_index].sum())
    maps = [weighted_map(a, channel_weights(g)) for a, g in zip(capture.features(), capture.gradients())]
    combined = sum(m / r for m, r in on_finest_time_axis(maps))
    return Explanation(logits.detach(), [m.detach().relu() for m in maps], combined.detach().relu())
