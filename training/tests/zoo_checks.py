"""Checks shared by the zoo tests (test_zoo_*.py)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from videotrain.export import export_onnx
from videotrain.models.resnet import BottleneckBlock


def trained_like(model: nn.Module, seed: int = 0) -> nn.Module:
    """Gives every norm layer non-trivial statistics and affine parameters.

    A fresh ResNet zero-initialises each residual branch's last BN, so every
    block would start as the identity and an export check would exercise
    almost nothing; this makes each layer matter. Those last BNs get small
    scales, as training leaves them, so activations keep a realistic size
    through 16 residual blocks. Returns the model in eval mode.
    """
    gen = torch.Generator().manual_seed(seed)

    def uniform(t: torch.Tensor, lo: float, hi: float) -> None:
        t.copy_(torch.rand(t.shape, generator=gen) * (hi - lo) + lo)

    branch_ends = {id(m.norm_c) for m in model.modules() if isinstance(m, BottleneckBlock)}
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm3d, nn.LayerNorm)):
                uniform(m.weight, *((0.05, 0.3) if id(m) in branch_ends else (0.5, 1.5)))
                uniform(m.bias, -0.2, 0.2)
            if isinstance(m, nn.BatchNorm3d):
                uniform(m.running_mean, -0.1, 0.1)
                uniform(m.running_var, 0.5, 1.5)
    return model.eval()


def assert_onnx_parity(model: nn.Module, frames: int, crop: int, path: Path, name: str) -> dict:
    """ONNX opset 17 export checked by onnxruntime (export_onnx raises above
    1e-4); prints the max abs logit difference."""
    info = export_onnx(model, {"frames": frames, "cropSize": crop}, path)
    print(f"{name}: ONNX opset {info['opset']} vs PyTorch at {frames}x{crop}x{crop}: max abs logit diff {info['maxAbsDiff']:.3g}")
    assert info["opset"] == 17
    assert info["maxAbsDiff"] < 1e-4
    return info


def assert_keys(state: dict[str, torch.Tensor], expected: dict[str, tuple[int, ...]]) -> None:
    for key, shape in expected.items():
        assert key in state, key
        assert tuple(state[key].shape) == shape, (key, tuple(state[key].shape), shape)
