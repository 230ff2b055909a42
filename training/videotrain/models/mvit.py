"""MViTv2-S (Li et al., "MViTv2: Improved Multiscale Vision Transformers for
Classification and Detection", arXiv:2112.01526) with torchvision's
`mvit_v2_s` parameter names, written for this package because torchvision
does not import on the CPU machines (see SYSTEM.md).

A torchvision checkpoint (MViT_V2_S_Weights.KINETICS400_V1) loads with
strict=True. Names that follow torchvision's module tree:

    conv_proj                          3×7×7 patch embedding, stride 2×4×4
    pos_encoding.class_token           (MViTv2 has relative positions only)
    blocks.{i}.norm1 / norm2           LayerNorm(eps=1e-6)
    blocks.{i}.attn.qkv / attn.project.0
    blocks.{i}.attn.pool_{q,k,v}.pool          depthwise 3×3×3 conv pooling
    blocks.{i}.attn.pool_{q,k,v}.norm_act.0    LayerNorm after pooling
    blocks.{i}.attn.rel_pos_{h,w,t}            decomposed relative positions
    blocks.{i}.mlp.0 / mlp.3           Linear, GELU, Dropout, Linear, Dropout
    blocks.{i}.project                 Linear where the width changes
    norm, head.1

Written for export: the token grid of every block is fixed when the model is
built (the relative-position tables tie MViT to its input size anyway), so
reshapes use constants, the relative-position lookups are constant gathers,
and the in-place updates torchvision does (rel-pos and the pooling residual
added to all but the class token) are slices and concatenations, which
compute the same values.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

Grid = tuple[int, int, int]  # (T, H, W) of the token grid, class token excluded


def _layer_norm(dim: int) -> nn.LayerNorm:
    return nn.LayerNorm(dim, eps=1e-6)


def _pooled(grid: Grid, kernel: Sequence[int], stride: Sequence[int]) -> Grid:
    """Output grid of a conv/max pool with padding kernel // 2."""
    return tuple((n + 2 * (k // 2) - k) // s + 1 for n, k, s in zip(grid, kernel, stride))  # type: ignore[return-value]


class Pool(nn.Module):
    """Pools the tokens of (B, heads, 1 + T·H·W, channels) as a T×H×W grid,
    passing the class token through; then the optional norm."""

    def __init__(
        self, pool: nn.Module, norm: nn.Module | None, grid: Grid, grid_out: Grid, heads: int, channels: int
    ) -> None:
        super().__init__()
        self.pool = pool
        self.norm_act = nn.Sequential(norm) if norm is not None else None
        self.grid, self.tokens_out, self.heads, self.channels = grid, math.prod(grid_out), heads, channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cls_token, tokens = x[:, :, :1], x[:, :, 1:]
        tokens = self.pool(tokens.transpose(2, 3).reshape(-1, self.channels, *self.grid))
        tokens = tokens.reshape(-1, self.heads, self.channels, self.tokens_out).transpose(2, 3)
        x = torch.cat((cls_token, tokens), dim=2)
        if self.norm_act is not None:
            x = self.norm_act(x)
        return x


def _rel_pos_index(q_size: int, k_size: int) -> torch.Tensor:
    """Row of the relative-position table for each (query, key) pair along one
    axis; a pooled axis is stretched so both sides span the same distance."""
    q_ratio = max(k_size / q_size, 1.0)
    k_ratio = max(q_size / k_size, 1.0)
    dist = torch.arange(q_size)[:, None] * q_ratio - (torch.arange(k_size)[None, :] + (1.0 - k_size)) * k_ratio
    return dist.long()


class MultiscaleAttention(nn.Module):
    """Pooling attention with decomposed relative positions and the pooled
    query added back to the output (MViTv2's residual pooling)."""

    def __init__(
        self,
        grid: Grid,
        embed_dim: int,
        output_dim: int,
        num_heads: int,
        kernel_q: Sequence[int],
        kernel_kv: Sequence[int],
        stride_q: Sequence[int],
        stride_kv: Sequence[int],
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.output_dim = output_dim
        self.num_heads = num_heads
        self.head_dim = output_dim // num_heads
        self.scaler = 1.0 / math.sqrt(self.head_dim)
        self.qkv = nn.Linear(embed_dim, 3 * output_dim)
        self.project = nn.Sequential(nn.Linear(output_dim, output_dim), *([nn.Dropout(dropout)] if dropout > 0 else []))

        def pool(kernel: Sequence[int], stride: Sequence[int]) -> Pool | None:
            if math.prod(kernel) == 1 and math.prod(stride) == 1:
                return None
            conv = nn.Conv3d(
                self.head_dim, self.head_dim, tuple(kernel), stride=tuple(stride),
                padding=tuple(k // 2 for k in kernel), groups=self.head_dim, bias=False,
            )
            return Pool(conv, _layer_norm(self.head_dim), grid, _pooled(grid, kernel, stride), num_heads, self.head_dim)

        self.pool_q = pool(kernel_q, stride_q)
        self.pool_k = pool(kernel_kv, stride_kv)
        self.pool_v = pool(kernel_kv, stride_kv)
        self.q_grid = _pooled(grid, kernel_q, stride_q) if self.pool_q is not None else grid
        self.k_grid = k_grid = _pooled(grid, kernel_kv, stride_kv) if self.pool_k is not None else grid
        self.tokens = 1 + math.prod(grid)

        # Table sizes as torchvision sizes them (from the input grid), so its
        # checkpoints fit; the lookups below need exactly these sizes.
        size = max(grid[1:])
        spatial = 2 * max(size // stride_q[1], size // stride_kv[1]) - 1
        temporal = 2 * grid[0] - 1
        needed = [2 * max(q, k) - 1 for q, k in zip(self.q_grid, k_grid)]
        if needed != [temporal, spatial, spatial]:
            raise ValueError(
                f"MViT token grid {grid} does not divide evenly by the pooling strides "
                f"{tuple(stride_q)}/{tuple(stride_kv)}; choose frames and crop size that do"
            )
        self.rel_pos_h = nn.Parameter(torch.zeros(spatial, self.head_dim))
        self.rel_pos_w = nn.Parameter(torch.zeros(spatial, self.head_dim))
        self.rel_pos_t = nn.Parameter(torch.zeros(temporal, self.head_dim))
        for table in (self.rel_pos_h, self.rel_pos_w, self.rel_pos_t):
            nn.init.trunc_normal_(table, std=0.02)
        # Derived constants, not in torchvision's state_dict.
        for axis, q, k in zip("thw", self.q_grid, k_grid):
            self.register_buffer(f"rel_index_{axis}", _rel_pos_index(q, k), persistent=False)

    def _rel_pos(self, q: torch.Tensor) -> torch.Tensor:
        """Bias of each (query token, key token) pair, class token excluded:
        q·R_t + q·R_h + q·R_w, shape (B, heads, T·H·W of q, T·H·W of k)."""
        qt, qh, qw = self.q_grid
        r_q = q[:, :, 1:].reshape(-1, self.num_heads, qt, qh, qw, self.head_dim)
        rt = torch.einsum("bythwc,tkc->bythwk", r_q, self.rel_pos_t[self.rel_index_t])
        rh = torch.einsum("bythwc,hkc->bythwk", r_q, self.rel_pos_h[self.rel_index_h])
        rw = torch.einsum("bythwc,wkc->bythwk", r_q, self.rel_pos_w[self.rel_index_w])
        kt, kh, kw = self.k_grid
        rel = rt[..., :, None, None] + rh[..., None, :, None] + rw[..., None, None, :]
        return rel.reshape(-1, self.num_heads, qt * qh * qw, kt * kh * kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(x).reshape(-1, self.tokens, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        if self.pool_k is not None:
            k = self.pool_k(k)
        if self.pool_v is not None:
            v = self.pool_v(v)
        if self.pool_q is not None:
            q = self.pool_q(q)
        attn = torch.matmul(self.scaler * q, k.transpose(2, 3))
        rows = attn[:, :, 1:]
        rows = torch.cat((rows[..., :1], rows[..., 1:] + self._rel_pos(q)), dim=3)
        attn = torch.cat((attn[:, :, :1], rows), dim=2)
        x = torch.matmul(attn.softmax(dim=-1), v)
        # Residual pooling: the pooled query joins every token but the class token.
        x = torch.cat((x[:, :, :1], x[:, :, 1:] + q[:, :, 1:]), dim=2)
        x = x.transpose(1, 2).reshape(-1, 1 + math.prod(self.q_grid), self.output_dim)
        return self.project(x)


class StochasticDepth(nn.Module):
    """Drops the residual branch for whole samples in training ("row" mode),
    scaling survivors by 1/(1-p); identity in eval."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = torch.empty((x.shape[0],) + (1,) * (x.ndim - 1), dtype=x.dtype, device=x.device).bernoulli_(keep)
        return x * mask / keep


class MultiscaleBlock(nn.Module):
    def __init__(
        self,
        grid: Grid,
        input_channels: int,
        output_channels: int,
        num_heads: int,
        kernel_q: Sequence[int],
        kernel_kv: Sequence[int],
        stride_q: Sequence[int],
        stride_kv: Sequence[int],
        dropout: float,
        stochastic_depth_prob: float,
    ) -> None:
        super().__init__()
        # Registration order = torchvision's.
        self.pool_skip: Pool | None = None
        if math.prod(stride_q) > 1:
            kernel_skip = [s + 1 if s > 1 else s for s in stride_q]
            skip = nn.MaxPool3d(kernel_skip, stride=tuple(stride_q), padding=[k // 2 for k in kernel_skip])
            self.pool_skip = Pool(skip, None, grid, _pooled(grid, kernel_skip, stride_q), 1, output_channels)
        self.norm1 = _layer_norm(input_channels)
        self.norm2 = _layer_norm(output_channels)
        self.attn = MultiscaleAttention(
            grid, input_channels, output_channels, num_heads, kernel_q, kernel_kv, stride_q, stride_kv, dropout
        )
        self.mlp = nn.Sequential(
            nn.Linear(output_channels, 4 * output_channels),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(4 * output_channels, output_channels),
            nn.Dropout(dropout),
        )
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob)
        self.project = nn.Linear(input_channels, output_channels) if input_channels != output_channels else None
        self.grid_out = self.attn.q_grid

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_norm1 = self.norm1(x)
        x_attn = self.attn(x_norm1)
        # MViTv2 widens the shortcut from the normalized input, after attention.
        x = x if self.project is None else self.project(x_norm1)
        if self.pool_skip is not None:
            x = self.pool_skip(x.unsqueeze(1)).squeeze(1)
        x = x + self.stochastic_depth(x_attn)
        return x + self.stochastic_depth(self.mlp(self.norm2(x)))


class PositionalEncoding(nn.Module):
    """Prepends the class token (MViTv2 has no absolute position embeddings)."""

    def __init__(self, embed_size: int) -> None:
        super().__init__()
        self.class_token = nn.Parameter(torch.zeros(embed_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((self.class_token.expand(x.shape[0], 1, -1), x), dim=1)


class MViT(nn.Module):
    def __init__(
        self,
        blocks: nn.ModuleList,
        conv_proj: nn.Conv3d,
        embed_dim: int,
        output_dim: int,
        num_classes: int,
        dropout: float,
    ) -> None:
        super().__init__()
        self.conv_proj = conv_proj
        self.pos_encoding = PositionalEncoding(embed_dim)
        self.blocks = blocks
        self.norm = _layer_norm(output_dim)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(output_dim, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_proj(x).flatten(2).transpose(1, 2)
        x = self.pos_encoding(x)
        for block in self.blocks:
            x = block(x)
        # Classify from the class token.
        return self.head(self.norm(x)[:, 0])


def create_mvit_v2_s(
    *,
    temporal_size: int = 16,
    spatial_size: int = 224,
    num_classes: int = 400,
    embed_dim: int = 96,
    num_heads: int = 1,
    stage_depths: Sequence[int] = (1, 2, 11, 2),
    kv_stride: Sequence[int] = (1, 8, 8),
    dropout: float = 0.5,
    attention_dropout: float = 0.0,
    stochastic_depth_prob: float = 0.2,
) -> MViT:
    """torchvision's mvit_v2_s (the defaults: 16×224², 34.5M parameters) and
    narrower/shallower variants of it for CPU work.

    Stage s ≥ 1 starts with a block that doubles width and heads and pools the
    queries 1×2×2; keys and values are pooled with an adaptive stride that
    starts at kv_stride and halves where the queries are pooled, so they stay
    at kv_stride's resolution (MViTv2-S: 7×7).
    """
    patch_kernel, patch_stride = (3, 7, 7), (2, 4, 4)
    conv_proj = nn.Conv3d(
        3, embed_dim, kernel_size=patch_kernel, stride=patch_stride, padding=tuple(k // 2 for k in patch_kernel)
    )
    grid: Grid = _pooled((temporal_size, spatial_size, spatial_size), patch_kernel, patch_stride)
    total = sum(stage_depths)
    blocks = nn.ModuleList()
    dim, heads, stride_kv = embed_dim, num_heads, list(kv_stride)
    for stage, depth in enumerate(stage_depths):
        for j in range(depth):
            widen = stage > 0 and j == 0
            stride_q = [1, 2, 2] if widen else [1, 1, 1]
            if widen:
                stride_kv = [max(s // q, 1) for s, q in zip(stride_kv, stride_q)]
                heads *= 2
            out_dim = dim * 2 if widen else dim
            block = MultiscaleBlock(
                grid, dim, out_dim, heads, kernel_q=(3, 3, 3), kernel_kv=(3, 3, 3),
                stride_q=stride_q, stride_kv=stride_kv, dropout=attention_dropout,
                # Deeper blocks are dropped more often (linear in depth).
                stochastic_depth_prob=stochastic_depth_prob * len(blocks) / max(total - 1, 1),
            )
            blocks.append(block)
            dim, grid = out_dim, block.grid_out
    model = MViT(blocks, conv_proj, embed_dim, dim, num_classes, dropout)
    _init_weights(model)
    return model


def _init_weights(model: MViT) -> None:
    """torchvision's init: truncated-normal Linear weights and class token,
    unit LayerNorms; convs keep PyTorch's default init."""
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    nn.init.trunc_normal_(model.pos_encoding.class_token, std=0.02)
