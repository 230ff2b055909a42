"""MAC counting beyond convs and linears: attention products, einsum, the zoo's BatchNorm convention."""

import torch
from torch import nn

from videotrain.models.profile import count_macs


class _Attention(nn.Module):
    """(B, C, T, H, W) → tokens → single-head attention with an einsum bias."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.qkv = nn.Linear(dim, 3 * dim)
        self.table = nn.Parameter(torch.randn(5, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = x.flatten(2).transpose(1, 2)  # (B, N, C)
        q, k, v = self.qkv(tokens).chunk(3, dim=-1)
        bias = torch.einsum("bnc,kc->bnk", q, self.table)  # (B, N, 5)
        attn = (q @ k.transpose(1, 2)).softmax(-1)  # (B, N, N)
        return (attn @ v).sum() + bias.sum()


def test_attention_products_and_einsum_are_counted():
    n, c = 2 * 3 * 4, 8  # tokens, channels
    macs = count_macs(_Attention(c), (c, 2, 3, 4))
    linear = n * c * 3 * c
    einsum = n * c * 5
    attention = n * n * c + n * n * c  # q·kᵀ and attention·v
    assert macs == linear + einsum + attention


def test_batchnorm_flops_per_output_element_on_request():
    net = nn.Sequential(nn.Conv3d(3, 4, 1, bias=False), nn.BatchNorm3d(4), nn.ReLU(), nn.MaxPool3d(2))
    shape = (3, 2, 4, 4)
    conv = 4 * 2 * 4 * 4 * 3
    assert count_macs(net, shape) == conv  # pools, activations and norms are free by default
    assert count_macs(net, shape, batchnorm_flops=5) == conv + 5 * 4 * 2 * 4 * 4
