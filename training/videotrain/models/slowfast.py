"""SlowFast (Feichtenhofer et al., "SlowFast Networks for Video Recognition",
arXiv:1812.03982) with PyTorchVideo's create_slowfast module tree.

Parameter names follow pytorchvideo.models.slowfast, so its model-zoo
checkpoints (e.g. SLOWFAST_8x8_R50.pyth's "model_state") load with strict=True:

    blocks.0.multipathway_blocks.{0,1}.conv / norm          stems (slow, fast)
    blocks.{0..3}.multipathway_fusion.conv_fast_to_slow / norm   fast→slow lateral
    blocks.{1..4}.multipathway_blocks.{0,1}.res_blocks.{i}.branch1_conv / branch2.conv_a ...
    blocks.4.multipathway_fusion                             Identity (no lateral after res5)
    blocks.5                                                 per-pathway AvgPool3d + concat
    blocks.6.proj                                            the classifier

One input, not two. PyTorchVideo's network takes [slow, fast] and leaves the
slow pathway's frame choice to the data pipeline. Here the model takes the
fast pathway's clip alone (N, C, T, H, W) and picks the slow frames inside the
graph with a constant index_select (ONNX Gather): T/alpha frames at
linspace(0, T-1, T/alpha), the indices PyTorchVideo's and PySlowFast's
PackPathway use. So the manifest describes one ordinary NCTHW input of T
frames, the Worker feeds it like any other model, and training, export and
serving cannot disagree about which frames the slow pathway sees. alpha is the
lateral connection's temporal stride (slowfast_fusion_conv_stride[0]), which
must equal the frame-rate ratio for the lateral shapes to match anyway.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn

from .resnet import (
    MODEL_STAGE_DEPTH,
    Net,
    ResNetBasicHead,
    act_layer,
    create_res_stage,
    head_activation_layer,
    init_resnet_weights,
    norm_layer,
    res_basic_stem,
)


class FuseFastToSlow(nn.Module):
    """Lateral connection: a strided temporal conv brings the fast features to
    the slow frame rate; they are concatenated to the slow features."""

    def __init__(self, conv_fast_to_slow: nn.Conv3d, norm: nn.Module | None, activation: nn.Module | None) -> None:
        super().__init__()
        self.conv_fast_to_slow = conv_fast_to_slow
        self.norm = norm
        self.activation = activation

    def forward(self, x: list[torch.Tensor]) -> list[torch.Tensor]:
        slow, fast = x
        fuse = self.conv_fast_to_slow(fast)
        if self.norm is not None:
            fuse = self.norm(fuse)
        if self.activation is not None:
            fuse = self.activation(fuse)
        return [torch.cat([slow, fuse], 1), fast]


class MultiPathWayWithFuse(nn.Module):
    def __init__(self, multipathway_blocks: nn.ModuleList, multipathway_fusion: nn.Module) -> None:
        super().__init__()
        self.multipathway_blocks = multipathway_blocks
        self.multipathway_fusion = multipathway_fusion

    def forward(self, x: list[torch.Tensor]) -> list[torch.Tensor]:
        return self.multipathway_fusion([block(xi) for block, xi in zip(self.multipathway_blocks, x)])


class PoolConcatPathway(nn.Module):
    def __init__(self, pool: nn.ModuleList) -> None:
        super().__init__()
        self.pool = pool

    def forward(self, x: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat([pool(xi) for pool, xi in zip(self.pool, x)], 1)


class SlowFastNet(Net):
    """Net over [slow, fast], fed from a single clip (see the module doc)."""

    def __init__(self, blocks: nn.ModuleList, frames: int, alpha: int) -> None:
        super().__init__(blocks)
        self.frames = frames
        # Not persistent: a derived constant, absent from PyTorchVideo's state_dict.
        self.register_buffer("slow_index", slow_pathway_index(frames, alpha), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[2] != self.frames:
            raise ValueError(f"SlowFast was built for {self.frames} frames per clip, got {x.shape[2]}")
        pathways: list[torch.Tensor] | torch.Tensor = [x.index_select(2, self.slow_index), x]
        for block in self.blocks:
            pathways = block(pathways)
        return pathways


def slow_pathway_index(frames: int, alpha: int) -> torch.Tensor:
    """The fast clip's frames that the slow pathway sees: PackPathway's
    linspace(0, T-1, T/alpha), truncated to integers."""
    if alpha < 1 or frames % alpha:
        raise ValueError(f"frames ({frames}) must be a multiple of alpha ({alpha}), the fast/slow frame ratio")
    return torch.linspace(0, frames - 1, frames // alpha).long()


def create_slowfast(
    *,
    input_clip_length: int = 32,
    slowfast_channel_reduction_ratio: int = 8,
    slowfast_conv_channel_fusion_ratio: int = 2,
    slowfast_fusion_conv_kernel_size: Sequence[int] = (7, 1, 1),
    slowfast_fusion_conv_stride: Sequence[int] = (4, 1, 1),
    input_channels: Sequence[int] = (3, 3),
    model_depth: int = 50,
    model_num_class: int = 400,
    dropout_rate: float = 0.5,
    norm: Callable | None = nn.BatchNorm3d,
    activation: Callable | None = nn.ReLU,
    stem_dim_outs: Sequence[int] = (64, 8),
    stem_conv_kernel_sizes: Sequence[Sequence[int]] = ((1, 7, 7), (5, 7, 7)),
    stem_conv_strides: Sequence[Sequence[int]] = ((1, 2, 2), (1, 2, 2)),
    stem_pool_kernel_sizes: Sequence[Sequence[int]] = ((1, 3, 3), (1, 3, 3)),
    stem_pool_strides: Sequence[Sequence[int]] = ((1, 2, 2), (1, 2, 2)),
    stage_conv_a_kernel_sizes: Sequence[Sequence[Sequence[int]]] = (
        ((1, 1, 1), (1, 1, 1), (3, 1, 1), (3, 1, 1)),
        ((3, 1, 1), (3, 1, 1), (3, 1, 1), (3, 1, 1)),
    ),
    stage_conv_b_kernel_sizes: Sequence[Sequence[Sequence[int]]] = (((1, 3, 3),) * 4, ((1, 3, 3),) * 4),
    stage_spatial_strides: Sequence[Sequence[int]] = ((1, 2, 2, 2), (1, 2, 2, 2)),
    stage_temporal_strides: Sequence[Sequence[int]] = ((1, 1, 1, 1), (1, 1, 1, 1)),
    head_pool_kernel_sizes: Sequence[Sequence[int]] = ((8, 7, 7), (32, 7, 7)),
    head_activation: Callable | None = None,
    head_output_with_global_average: bool = True,
) -> SlowFastNet:
    """PyTorchVideo's create_slowfast (defaults: SlowFast-R50 8×8) with its
    parameter names, for two pathways (slow, fast). input_clip_length is the
    fast pathway's frame count, the one input the network takes; the slow
    pathway gets every alpha-th of them, alpha = slowfast_fusion_conv_stride[0]."""
    if model_depth not in MODEL_STAGE_DEPTH:
        raise ValueError(f"model_depth must be one of {sorted(MODEL_STAGE_DEPTH)}, got {model_depth}")
    beta_inv, fusion_ratio = slowfast_channel_reduction_ratio, slowfast_conv_channel_fusion_ratio

    def fusion(dim: int) -> FuseFastToSlow:
        # The fast pathway has dim/beta_inv channels; the lateral conv widens them by fusion_ratio.
        fast_dim = dim // beta_inv
        return FuseFastToSlow(
            conv_fast_to_slow=nn.Conv3d(
                fast_dim, fast_dim * fusion_ratio, kernel_size=tuple(slowfast_fusion_conv_kernel_size),
                stride=tuple(slowfast_fusion_conv_stride),
                padding=tuple(k // 2 for k in slowfast_fusion_conv_kernel_size), bias=False,
            ),
            norm=norm_layer(norm, fast_dim * fusion_ratio),
            activation=act_layer(activation),
        )

    stems = nn.ModuleList(
        res_basic_stem(
            input_channels[p], stem_dim_outs[p], stem_conv_kernel_sizes[p], stem_conv_strides[p],
            stem_pool_kernel_sizes[p], stem_pool_strides[p], norm, activation,
        )
        for p in range(2)
    )
    blocks: list[nn.Module] = [MultiPathWayWithFuse(stems, fusion(stem_dim_outs[0]))]

    depths = MODEL_STAGE_DEPTH[model_depth]
    dim_in, dim_out = stem_dim_outs[0], stem_dim_outs[0] * 4
    for idx, depth in enumerate(depths):
        # Slow input = its own features + the fused fast features.
        dims_in = (dim_in + dim_in * fusion_ratio // beta_inv, dim_in // beta_inv)
        dims_inner = (dim_out // 4, dim_out // 4 // beta_inv)
        dims_out = (dim_out, dim_out // beta_inv)
        stage = nn.ModuleList(
            create_res_stage(
                depth=depth, dim_in=dims_in[p], dim_inner=dims_inner[p], dim_out=dims_out[p],
                conv_a_kernel_size=stage_conv_a_kernel_sizes[p][idx],
                conv_a_stride=(stage_temporal_strides[p][idx], 1, 1),
                conv_b_kernel_size=stage_conv_b_kernel_sizes[p][idx],
                conv_b_stride=(1, stage_spatial_strides[p][idx], stage_spatial_strides[p][idx]),
                norm=norm, activation=activation,
            )
            for p in range(2)
        )
        last = idx == len(depths) - 1
        blocks.append(MultiPathWayWithFuse(stage, nn.Identity() if last else fusion(dim_out)))
        dim_in, dim_out = dim_out, dim_out * 2

    blocks.append(PoolConcatPathway(nn.ModuleList(nn.AvgPool3d(tuple(k), stride=1) for k in head_pool_kernel_sizes)))
    blocks.append(
        ResNetBasicHead(
            pool=None,
            dropout=nn.Dropout(dropout_rate) if dropout_rate > 0 else None,
            proj=nn.Linear(dim_in + dim_in // beta_inv, model_num_class),
            activation=head_activation_layer(head_activation),
            output_pool=nn.AdaptiveAvgPool3d(1) if head_output_with_global_average else None,
        )
    )
    net = SlowFastNet(nn.ModuleList(blocks), input_clip_length, slowfast_fusion_conv_stride[0])
    init_resnet_weights(net)
    return net
