"""ResNet-style video networks with PyTorchVideo's module tree, and C2D.

The blocks here (stem, bottleneck, residual block, stage, head, Net) are the
ones pytorchvideo.models.resnet/stem/head/net define, with the same attribute
names, so state_dicts move between PyTorchVideo and this package with
strict=True. X3D and SlowFast are assembled from them too.

C2D-R50 (create_c2d) is PyTorchVideo's create_resnet with its hub `c2d_r50`
settings: a 1×7×7 stem, 1×1×1 conv_a everywhere (no temporal convolution at
all) and a 2×1×1 max pool after the first stage, so res3..res5 see T/2 frames.
Key names: blocks.0 stem (conv, norm), blocks.1 res2, blocks.2 the temporal
pool (no parameters), blocks.3..5 res3..res5, blocks.6 head (proj).
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch import nn

# Bottleneck blocks per stage; 18 is PyTorchVideo's SlowFast entry (one
# bottleneck per stage), used here for CPU-sized presets.
MODEL_STAGE_DEPTH = {18: (1, 1, 1, 1), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


def norm_layer(norm: Callable | None, dim: int, eps: float = 1e-5, momentum: float = 0.1) -> nn.Module | None:
    return None if norm is None else norm(num_features=dim, eps=eps, momentum=momentum)


def act_layer(activation: Callable | None) -> nn.Module | None:
    return None if activation is None else activation()


class ResNetBasicStem(nn.Module):
    def __init__(
        self,
        conv: nn.Module,
        norm: nn.Module | None,
        activation: nn.Module | None,
        pool: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.conv = conv
        self.norm = norm
        self.activation = activation
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.norm is not None:
            x = self.norm(x)
        if self.activation is not None:
            x = self.activation(x)
        if self.pool is not None:
            x = self.pool(x)
        return x


class BottleneckBlock(nn.Module):
    def __init__(self, **layers: nn.Module | None) -> None:
        super().__init__()
        # Registration order = PyTorchVideo's, so state_dict key order matches too.
        for name in ("conv_a", "norm_a", "act_a", "conv_b", "norm_b", "act_b", "conv_c", "norm_c"):
            setattr(self, name, layers[name])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name in ("conv_a", "norm_a", "act_a", "conv_b", "norm_b", "act_b", "conv_c", "norm_c"):
            layer = getattr(self, name)
            if layer is not None:
                x = layer(x)
        return x


class ResBlock(nn.Module):
    def __init__(
        self,
        branch1_conv: nn.Module | None,
        branch1_norm: nn.Module | None,
        branch2: nn.Module,
        activation: nn.Module | None,
    ) -> None:
        super().__init__()
        self.branch1_conv = branch1_conv
        self.branch1_norm = branch1_norm
        self.branch2 = branch2
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        if self.branch1_conv is not None:
            shortcut = self.branch1_conv(x)
            if self.branch1_norm is not None:
                shortcut = self.branch1_norm(shortcut)
        x = shortcut + self.branch2(x)
        if self.activation is not None:
            x = self.activation(x)
        return x


class ResStage(nn.Module):
    def __init__(self, res_blocks: nn.ModuleList) -> None:
        super().__init__()
        self.res_blocks = res_blocks

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.res_blocks:
            x = block(x)
        return x


class ResNetBasicHead(nn.Module):
    def __init__(
        self,
        pool: nn.Module | None,
        dropout: nn.Module | None,
        proj: nn.Linear,
        activation: nn.Module | None,
        output_pool: nn.Module | None,
    ) -> None:
        super().__init__()
        self.pool = pool
        self.dropout = dropout
        self.proj = proj
        self.activation = activation
        self.output_pool = output_pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool is not None:
            x = self.pool(x)
        if self.dropout is not None:
            x = self.dropout(x)
        # The Linear acts on channels at every remaining (t, h, w) position.
        x = self.proj(x.permute(0, 2, 3, 4, 1)).permute(0, 4, 1, 2, 3)
        if self.activation is not None:
            x = self.activation(x)
        if self.output_pool is not None:
            x = self.output_pool(x).flatten(1)
        return x


class Net(nn.Module):
    def __init__(self, blocks: nn.ModuleList) -> None:
        super().__init__()
        self.blocks = blocks

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x


def head_activation_layer(head_activation: Callable | None) -> nn.Module | None:
    """PyTorchVideo heads take the activation class; Softmax needs its dim."""
    if head_activation is None:
        return None
    if head_activation is nn.Softmax:
        return nn.Softmax(dim=1)
    if head_activation is nn.Sigmoid:
        return nn.Sigmoid()
    raise ValueError(f"head_activation must be None, nn.Softmax or nn.Sigmoid, got {head_activation!r}")


def create_res_stage(
    *,
    depth: int,
    dim_in: int,
    dim_inner: int,
    dim_out: int,
    conv_a_kernel_size: Sequence[int],
    conv_a_stride: Sequence[int],
    conv_b_kernel_size: Sequence[int],
    conv_b_stride: Sequence[int],
    norm: Callable | None,
    activation: Callable | None,
) -> ResStage:
    """PyTorchVideo's create_res_stage with plain bottlenecks (no groups, no
    dilation): the stride sits in the first block, which also projects the
    shortcut when the shape changes."""
    blocks = []
    for i in range(depth):
        block_in = dim_in if i == 0 else dim_out
        stride_a = tuple(conv_a_stride) if i == 0 else (1, 1, 1)
        stride_b = tuple(conv_b_stride) if i == 0 else (1, 1, 1)
        shortcut_stride = tuple(a * b for a, b in zip(stride_a, stride_b))
        needs_proj = block_in != dim_out or math.prod(shortcut_stride) != 1
        branch2 = BottleneckBlock(
            conv_a=nn.Conv3d(
                block_in, dim_inner, kernel_size=tuple(conv_a_kernel_size), stride=stride_a,
                padding=tuple(k // 2 for k in conv_a_kernel_size), bias=False,
            ),
            norm_a=norm_layer(norm, dim_inner),
            act_a=act_layer(activation),
            conv_b=nn.Conv3d(
                dim_inner, dim_inner, kernel_size=tuple(conv_b_kernel_size), stride=stride_b,
                padding=tuple(k // 2 for k in conv_b_kernel_size), bias=False,
            ),
            norm_b=norm_layer(norm, dim_inner),
            act_b=act_layer(activation),
            conv_c=nn.Conv3d(dim_inner, dim_out, kernel_size=1, bias=False),
            norm_c=norm_layer(norm, dim_out),
        )
        blocks.append(
            ResBlock(
                branch1_conv=(
                    nn.Conv3d(block_in, dim_out, kernel_size=1, stride=shortcut_stride, bias=False)
                    if needs_proj
                    else None
                ),
                branch1_norm=norm_layer(norm, dim_out) if needs_proj else None,
                branch2=branch2,
                activation=act_layer(activation),
            )
        )
    return ResStage(nn.ModuleList(blocks))


def res_basic_stem(
    dim_in: int, dim_out: int, kernel: Sequence[int], stride: Sequence[int],
    pool_kernel: Sequence[int] | None, pool_stride: Sequence[int], norm: Callable | None, activation: Callable | None,
) -> ResNetBasicStem:
    """PyTorchVideo's create_res_basic_stem: conv (padding k//2), norm, act, max pool."""
    return ResNetBasicStem(
        conv=nn.Conv3d(dim_in, dim_out, kernel_size=tuple(kernel), stride=tuple(stride),
                       padding=tuple(k // 2 for k in kernel), bias=False),
        norm=norm_layer(norm, dim_out),
        activation=act_layer(activation),
        pool=(
            nn.MaxPool3d(tuple(pool_kernel), stride=tuple(pool_stride), padding=tuple(k // 2 for k in pool_kernel))
            if pool_kernel is not None
            else None
        ),
    )


def create_resnet(
    *,
    input_channel: int = 3,
    model_depth: int = 50,
    model_num_class: int = 400,
    dropout_rate: float = 0.5,
    norm: Callable | None = nn.BatchNorm3d,
    activation: Callable | None = nn.ReLU,
    stem_dim_out: int = 64,
    stem_conv_kernel_size: Sequence[int] = (3, 7, 7),
    stem_conv_stride: Sequence[int] = (1, 2, 2),
    stem_pool_kernel_size: Sequence[int] | None = (1, 3, 3),
    stem_pool_stride: Sequence[int] = (1, 2, 2),
    stage1_pool_kernel_size: Sequence[int] | None = None,
    stage_conv_a_kernel_size: Sequence[Sequence[int]] = ((1, 1, 1), (1, 1, 1), (3, 1, 1), (3, 1, 1)),
    stage_conv_b_kernel_size: Sequence[Sequence[int]] = ((1, 3, 3),) * 4,
    stage_spatial_stride: Sequence[int] = (1, 2, 2, 2),
    stage_temporal_stride: Sequence[int] = (1, 1, 1, 1),
    head_pool_kernel_size: Sequence[int] = (4, 7, 7),
    head_activation: Callable | None = None,
    head_output_with_global_average: bool = True,
) -> Net:
    """PyTorchVideo's create_resnet (defaults: Slow/I3D-style R50), with its
    parameter names. Differences in the signature, not the network: the stem
    pool and the stage-1 pool are always max pools, given by their kernel sizes
    (None: no pool); stage strides are one spatial value per stage; PyTorchVideo's
    stage1_pool=nn.MaxPool3d + stage1_pool_kernel_size=K is stage1_pool_kernel_size=K."""
    if model_depth not in MODEL_STAGE_DEPTH:
        raise ValueError(f"model_depth must be one of {sorted(MODEL_STAGE_DEPTH)}, got {model_depth}")
    blocks: list[nn.Module] = [
        res_basic_stem(
            input_channel, stem_dim_out, stem_conv_kernel_size, stem_conv_stride,
            stem_pool_kernel_size, stem_pool_stride, norm, activation,
        )
    ]
    dim_in, dim_out = stem_dim_out, stem_dim_out * 4
    for idx, depth in enumerate(MODEL_STAGE_DEPTH[model_depth]):
        blocks.append(
            create_res_stage(
                depth=depth, dim_in=dim_in, dim_inner=dim_out // 4, dim_out=dim_out,
                conv_a_kernel_size=stage_conv_a_kernel_size[idx],
                conv_a_stride=(stage_temporal_stride[idx], 1, 1),
                conv_b_kernel_size=stage_conv_b_kernel_size[idx],
                conv_b_stride=(1, stage_spatial_stride[idx], stage_spatial_stride[idx]),
                norm=norm, activation=activation,
            )
        )
        if idx == 0 and stage1_pool_kernel_size is not None:
            k = tuple(stage1_pool_kernel_size)
            blocks.append(nn.MaxPool3d(k, stride=k, padding=0))
        dim_in, dim_out = dim_out, dim_out * 2
    blocks.append(
        ResNetBasicHead(
            pool=nn.AvgPool3d(tuple(head_pool_kernel_size), stride=1),
            dropout=nn.Dropout(dropout_rate) if dropout_rate > 0 else None,
            proj=nn.Linear(dim_in, model_num_class),
            activation=head_activation_layer(head_activation),
            output_pool=nn.AdaptiveAvgPool3d(1) if head_output_with_global_average else None,
        )
    )
    net = Net(nn.ModuleList(blocks))
    init_resnet_weights(net)
    return net


def create_c2d(**kwargs) -> Net:
    """C2D: PyTorchVideo's hub `c2d_r50` configuration of create_resnet (any
    keyword overrides it, e.g. model_num_class or a smaller stem_dim_out)."""
    config = {
        "stem_conv_kernel_size": (1, 7, 7),
        "stage1_pool_kernel_size": (2, 1, 1),
        "stage_conv_a_kernel_size": ((1, 1, 1),) * 4,
        **kwargs,
    }
    return create_resnet(**config)


def init_resnet_weights(net: nn.Module) -> None:
    """PyTorchVideo's init (MSRA fan-out convs, N(0, 0.01) linear), plus
    zero-init of each residual branch's last BN as in the SlowFast X3D configs:
    every block starts as identity, which trains faster from scratch."""
    for m in net.modules():
        if isinstance(m, nn.Conv3d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm3d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.01)
            nn.init.zeros_(m.bias)
    for m in net.modules():
        if isinstance(m, BottleneckBlock) and isinstance(m.norm_c, nn.BatchNorm3d):
            nn.init.zeros_(m.norm_c.weight)
