"""Class activation maps (Zhou et al., arXiv:1512.04150), forward only.

Where a head averages the features over the whole grid and everything after
the pool acts per location, running those post-pool layers at every location
of the pool's input gives per-location logits. With a linear head (C2D,
SlowFast) their mean over the grid is the model's logits exactly; X3D's
head (pre_conv, ReLU, pool, post_conv, ReLU, proj) is not linear after the
pool, so there it is the head's answer for each location alone. The edge
computes the same thing in ONNX; this is the PyTorch reference.
"""

from __future__ import annotations

import torch
from torch import nn

from ..models.resnet import ResNetBasicHead
from ..models.slowfast import PoolConcatPathway
from ..models.x3d import ProjectedPool
from . import ExplainError
from .features import LayerCapture, on_finest_time_axis
from .gradcam import Explanation


def pooled_head(model: nn.Module) -> tuple[str, nn.Module, nn.Linear]:
    """(the layer whose output the head pools, the post-pool layers before the projection, the projection)."""
    blocks = getattr(model, "blocks", None)
    head = blocks[-1] if isinstance(blocks, nn.ModuleList) else None
    if isinstance(head, ResNetBasicHead):
        n = len(blocks)
        if isinstance(head.pool, ProjectedPool):  # X3D
            pre = [name for name in ("pre_conv", "pre_norm", "pre_act") if getattr(head.pool, name) is not None][-1]
            post = [getattr(head.pool, name) for name in ("post_conv", "post_norm", "post_act")]
            return f"blocks.{n - 1}.pool.{pre}", nn.Sequential(*(m for m in post if m is not None)), head.proj
        if isinstance(head.pool, nn.AvgPool3d):  # C2D / ResNet
            return f"blocks.{n - 2}", nn.Identity(), head.proj
        if head.pool is None and isinstance(blocks[-2], PoolConcatPathway):  # SlowFast: one pool per pathway
            return f"blocks.{n - 3}", nn.Identity(), head.proj
    raise ExplainError(f"--method cam needs a head that averages a feature grid before per-location layers "
                       f"(X3D, C2D, SlowFast); {type(model).__name__} has none: use --method gradcam")


@torch.no_grad()
def location_logits(model: nn.Module, clips: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
    """(per pathway (B, K, T_p, H, W) shares of the logits, bias excluded; (B, K, T, H, W)
    per-location logits on the finest time axis, bias included; the model's (B, K) logits)."""
    layer, post, proj = pooled_head(model)
    with LayerCapture(model, layer) as capture:
        logits = model(clips)
    features = [post(f) for f in capture.features()]
    # The projection's input is the pathways' channels concatenated (slow first).
    weights = proj.weight.split([f.shape[1] for f in features], dim=1)
    shares = [torch.einsum("bcthw,kc->bkthw", f, w) for f, w in zip(features, weights)]
    combined = sum(m for m, _ in on_finest_time_axis(shares)) + proj.bias[:, None, None, None]
    return shares, combined, logits


def class_activation_map(model: nn.Module, clips: torch.Tensor, class_index: int) -> Explanation:
    shares, combined, logits = location_logits(model, clips)
    return Explanation(logits, [s[:, class_index] for s in shares], combined[:, class_index])
