"""X3D (Feichtenhofer, "X3D: Expanding Architectures for Efficient Video
Recognition", arXiv:2004.04730), rebuilt without PyTorchVideo.

The module tree mirrors pytorchvideo.models.x3d.create_x3d exactly, so a
state_dict from PyTorchVideo's model zoo loads into it with strict=True and a
checkpoint trained here loads into PyTorchVideo. Parameter names that follow:

    blocks.0.conv.conv_t     spatial 1×k×k conv (PyTorchVideo swaps the names:
    blocks.0.conv.conv_xy    conv_t is spatial, conv_xy the depthwise temporal)
    blocks.0.norm
    blocks.{1..4}.res_blocks.{i}.branch1_conv / branch1_norm   (shortcut)
    blocks.{1..4}.res_blocks.{i}.branch2.conv_a / norm_a / conv_b / conv_c / norm_c
    blocks.{1..4}.res_blocks.{i}.branch2.norm_b.0             (BatchNorm)
    blocks.{1..4}.res_blocks.{i}.branch2.norm_b.1.block.{0,2} (SE convs; Identity
                                                               on odd blocks)
    blocks.5.pool.pre_conv / pre_norm / post_conv (/ post_norm with bn_lin5_on)
    blocks.5.proj
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .resnet import (
    BottleneckBlock,
    Net,
    ResBlock,
    ResNetBasicHead,
    ResNetBasicStem,
    ResStage,
    act_layer,
    head_activation_layer,
    init_resnet_weights,
    norm_layer,
)


class Swish(nn.Module):
    """x·sigmoid(x), written out so ONNX export emits plain Sigmoid + Mul.

    PyTorchVideo uses a custom autograd.Function here, which is what makes its
    X3D fail to export; the math is the same.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(x)


def round_width(width: float, multiplier: float, min_width: int = 8, divisor: int = 8) -> int:
    """PyTorchVideo's channel rounding: nearest multiple of `divisor`, never
    more than 10% below the exact value."""
    if not multiplier:
        return int(width)
    width *= multiplier
    out = max(min_width, int(width + divisor / 2) // divisor * divisor)
    if out < 0.9 * width:
        out += divisor
    return int(out)


def round_repeats(repeats: int, multiplier: float) -> int:
    if not multiplier:
        return repeats
    return int(math.ceil(multiplier * repeats))


class SqueezeExcitation(nn.Module):
    """fvcore's 3D SE block (the names `block.0` / `block.2` are its own)."""

    def __init__(self, num_channels: int, num_channels_reduced: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv3d(num_channels, num_channels_reduced, kernel_size=1, bias=True),
            nn.ReLU(),
            nn.Conv3d(num_channels_reduced, num_channels, kernel_size=1, bias=True),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Global average pool rather than mean(): exports as GlobalAveragePool,
        # which needs no axes input (ReduceMean changed form in opset 18).
        return x * self.block(F.adaptive_avg_pool3d(x, 1))


class Conv2plus1d(nn.Module):
    def __init__(self, conv_t: nn.Module, conv_xy: nn.Module) -> None:
        super().__init__()
        self.conv_t = conv_t
        self.conv_xy = conv_xy

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_xy(self.conv_t(x))


class ProjectedPool(nn.Module):
    def __init__(self, **layers: nn.Module | None) -> None:
        super().__init__()
        for name in ("pre_conv", "pre_norm", "pre_act", "pool", "post_conv", "post_norm", "post_act"):
            setattr(self, name, layers[name])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name in ("pre_conv", "pre_norm", "pre_act", "pool", "post_conv", "post_norm", "post_act"):
            layer = getattr(self, name)
            if layer is not None:
                x = layer(x)
        return x


def _bottleneck(
    *, dim_in, dim_inner, dim_out, kernel, stride, norm, eps, momentum, se_ratio, activation, inner_act
) -> BottleneckBlock:
    se = SqueezeExcitation(dim_inner, round_width(dim_inner, se_ratio)) if se_ratio > 0 else nn.Identity()
    bn_b = norm_layer(norm, dim_inner, eps, momentum)
    return BottleneckBlock(
        conv_a=nn.Conv3d(dim_in, dim_inner, kernel_size=1, bias=False),
        norm_a=norm_layer(norm, dim_inner, eps, momentum),
        act_a=act_layer(activation),
        # Channelwise (depthwise) 3D conv: X3D's main spatiotemporal operator.
        conv_b=nn.Conv3d(
            dim_inner,
            dim_inner,
            kernel_size=tuple(kernel),
            stride=tuple(stride),
            padding=tuple(k // 2 for k in kernel),
            groups=dim_inner,
            bias=False,
        ),
        norm_b=nn.Sequential(nn.Identity() if bn_b is None else bn_b, se),
        act_b=act_layer(inner_act),
        conv_c=nn.Conv3d(dim_inner, dim_out, kernel_size=1, bias=False),
        norm_c=norm_layer(norm, dim_out, eps, momentum),
    )


def create_x3d(
    *,
    input_channel: int = 3,
    input_clip_length: int = 13,
    input_crop_size: int = 160,
    model_num_class: int = 400,
    dropout_rate: float = 0.5,
    width_factor: float = 2.0,
    depth_factor: float = 2.2,
    norm: Callable | None = nn.BatchNorm3d,
    norm_eps: float = 1e-5,
    norm_momentum: float = 0.1,
    activation: Callable | None = nn.ReLU,
    stem_dim_in: int = 12,
    stem_conv_kernel_size: Sequence[int] = (5, 3, 3),
    stem_conv_stride: Sequence[int] = (1, 2, 2),
    stage_conv_kernel_size: Sequence[Sequence[int]] = ((3, 3, 3),) * 4,
    stage_spatial_stride: Sequence[int] = (2, 2, 2, 2),
    stage_temporal_stride: Sequence[int] = (1, 1, 1, 1),
    bottleneck_factor: float = 2.25,
    se_ratio: float = 0.0625,
    inner_act: Callable | None = Swish,
    head_dim_out: int = 2048,
    head_pool_act: Callable | None = nn.ReLU,
    head_bn_lin5_on: bool = False,
    head_activation: Callable | None = nn.Softmax,
    head_output_with_global_average: bool = True,
) -> Net:
    """X3D with PyTorchVideo's signature, defaults (X3D-S) and parameter names.

    head_activation defaults to Softmax as in PyTorchVideo; pass None to get
    logits (what training with cross-entropy and the exported graph need).
    """
    kt, kh, kw = stem_conv_kernel_size
    st, sh, sw = stem_conv_stride
    stem_dim_out = round_width(stem_dim_in, width_factor)
    blocks: list[nn.Module] = [
        ResNetBasicStem(
            conv=Conv2plus1d(
                conv_t=nn.Conv3d(
                    input_channel, stem_dim_out, kernel_size=(1, kh, kw), stride=(1, sh, sw),
                    padding=(0, kh // 2, kw // 2), bias=False,
                ),
                conv_xy=nn.Conv3d(
                    stem_dim_out, stem_dim_out, kernel_size=(kt, 1, 1), stride=(st, 1, 1),
                    padding=(kt // 2, 0, 0), groups=stem_dim_out, bias=False,
                ),
            ),
            norm=norm_layer(norm, stem_dim_out, norm_eps, norm_momentum),
            activation=act_layer(activation),
        )
    ]

    stage_depths = (1, 2, 5, 3)
    stage_dims = [stem_dim_in]
    for _ in range(3):
        stage_dims.append(round_width(stage_dims[-1], 2.0))

    dim_in = stem_dim_out
    for idx, base_depth in enumerate(stage_depths):
        dim_out = round_width(stage_dims[idx], width_factor)
        dim_inner = int(bottleneck_factor * dim_out)
        stride = (stage_temporal_stride[idx], stage_spatial_stride[idx], stage_spatial_stride[idx])
        res_blocks = []
        for i in range(round_repeats(base_depth, depth_factor)):
            block_in = dim_in if i == 0 else dim_out
            block_stride = stride if i == 0 else (1, 1, 1)
            needs_proj = block_in != dim_out or math.prod(block_stride) > 1
            res_blocks.append(
                ResBlock(
                    branch1_conv=(
                        nn.Conv3d(block_in, dim_out, kernel_size=1, stride=block_stride, bias=False)
                        if needs_proj
                        else None
                    ),
                    # PyTorchVideo builds the shortcut BN with default eps/momentum.
                    branch1_norm=norm(num_features=dim_out) if norm is not None and block_in != dim_out else None,
                    branch2=_bottleneck(
                        dim_in=block_in, dim_inner=dim_inner, dim_out=dim_out,
                        kernel=stage_conv_kernel_size[idx], stride=block_stride,
                        norm=norm, eps=norm_eps, momentum=norm_momentum,
                        # SE on every other block, starting with the first.
                        se_ratio=se_ratio if i % 2 == 0 else 0.0,
                        activation=activation, inner_act=inner_act,
                    ),
                    activation=act_layer(activation),
                )
            )
        blocks.append(ResStage(nn.ModuleList(res_blocks)))
        dim_in = dim_out

    total_spatial = sh * math.prod(stage_spatial_stride)
    total_temporal = st * math.prod(stage_temporal_stride)
    if input_clip_length < total_temporal:
        raise ValueError(f"input_clip_length {input_clip_length} is below the temporal stride {total_temporal}")
    if input_crop_size < total_spatial:
        raise ValueError(f"input_crop_size {input_crop_size} is below the spatial stride {total_spatial}")
    # A fixed-size pool, as in PyTorchVideo: it covers the whole final feature
    # map for the training input size, so the model is tied to T×H×W.
    pool_kernel = (
        input_clip_length // total_temporal,
        math.ceil(input_crop_size / total_spatial),
        math.ceil(input_crop_size / total_spatial),
    )
    head_act = head_activation_layer(head_activation)
    blocks.append(
        ResNetBasicHead(
            pool=ProjectedPool(
                pre_conv=nn.Conv3d(dim_out, dim_inner, kernel_size=1, bias=False),
                pre_norm=norm_layer(norm, dim_inner, norm_eps, norm_momentum),
                pre_act=act_layer(head_pool_act),
                pool=nn.AvgPool3d(pool_kernel, stride=1),
                post_conv=nn.Conv3d(dim_inner, head_dim_out, kernel_size=1, bias=False),
                post_norm=norm_layer(norm, head_dim_out, norm_eps, norm_momentum) if head_bn_lin5_on else None,
                post_act=act_layer(head_pool_act),
            ),
            dropout=nn.Dropout(dropout_rate) if dropout_rate > 0 else None,
            proj=nn.Linear(head_dim_out, model_num_class, bias=True),
            activation=head_act,
            output_pool=nn.AdaptiveAvgPool3d(1) if head_output_with_global_average else None,
        )
    )
    net = Net(nn.ModuleList(blocks))
    init_resnet_weights(net)
    return net
