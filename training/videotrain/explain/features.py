"""A named layer's output as feature grids, captured with hooks.

Every zoo model's features can be read as (B, C, T, H, W): conv blocks give
that directly, SlowFast's multi-pathway blocks give [slow, fast], MViT's
blocks give tokens (B, 1 + T·H·W, C) with the class token first.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..models.mvit import MViT
from . import ExplainError

# The last stage's output: the finest grid that has seen the whole network's
# evidence. SlowFast's blocks.4 outputs both pathways.
DEFAULT_LAYERS = {"x3d": "blocks.4", "c2d_r50": "blocks.5", "slowfast_r50": "blocks.4"}
# SlowFast's multi-pathway blocks output [slow, fast]; no other zoo model outputs lists.
PATHWAYS = ("slow", "fast")


def default_layer(arch: str, model: nn.Module) -> str:
    if isinstance(model, MViT):
        # The last block's output reaches the head only through the class token,
        # so its other tokens get no gradient; the block's normalized input does.
        return f"blocks.{len(model.blocks) - 1}.norm1"
    return DEFAULT_LAYERS[arch]


def find_layer(model: nn.Module, name: str) -> nn.Module:
    modules = dict(model.named_modules())
    if name not in modules or not name:
        shallow = [n for n in modules if n and n.count(".") <= 1]
        raise ExplainError(
            f"unknown layer {name!r}; e.g. {', '.join(shallow[:12])} (any name in model.named_modules())"
        )
    return modules[name]


def token_grids(model: nn.Module) -> dict[int, tuple[int, int, int]]:
    """MViT: token count (class token excluded) -> its (T, H, W) grid. Every
    block's input grid is some block's output grid: the first block never pools."""
    if not isinstance(model, MViT):
        return {}
    return {math.prod(b.grid_out): tuple(b.grid_out) for b in model.blocks}


class LayerCapture:
    """A forward hook on one layer keeps its output tensors; tensor hooks keep their gradients."""

    def __init__(self, model: nn.Module, name: str) -> None:
        self.name = name
        self.module = find_layer(model, name)
        self.grids = token_grids(model)
        self.outputs: list[torch.Tensor] = []
        self.grads: list[torch.Tensor | None] = []

    def __enter__(self) -> LayerCapture:
        self.handle = self.module.register_forward_hook(self._on_output)
        return self

    def __exit__(self, *exc) -> None:
        self.handle.remove()

    def _on_output(self, module: nn.Module, inputs, output) -> None:
        tensors = list(output) if isinstance(output, (list, tuple)) else [output]
        if not all(isinstance(t, torch.Tensor) for t in tensors) or len(tensors) > len(PATHWAYS):
            raise ExplainError(f"layer {self.name} ({type(module).__name__}) does not output a feature tensor")
        # A module that runs twice per forward keeps its last output.
        self.outputs, self.grads = tensors, [None] * len(tensors)
        for i, t in enumerate(tensors):
            if t.requires_grad:
                t.register_hook(lambda g, i=i: self.grads.__setitem__(i, g))

    def backward(self, score: torch.Tensor) -> None:
        """Gradients of `score` for the captured outputs only (no weight gradients)."""
        torch.autograd.backward(score, inputs=[t for t in self.outputs if t.requires_grad])

    def features(self) -> list[torch.Tensor]:
        return [self._grid(t) for t in self.outputs]

    def gradients(self) -> list[torch.Tensor]:
        # Tokens the score does not depend on get no gradient at all: zeros.
        return [self._grid(torch.zeros_like(t) if g is None else g) for t, g in zip(self.outputs, self.grads)]

    def _grid(self, t: torch.Tensor) -> torch.Tensor:
        if t.dim() == 5:
            return t
        if t.dim() == 3:
            b, n, c = t.shape
            if n - 1 in self.grids:
                t, n = t[:, 1:], n - 1  # the class token has no place in the grid
            if n in self.grids:
                return t.transpose(1, 2).reshape(b, c, *self.grids[n])
        raise ExplainError(f"layer {self.name} outputs shape {tuple(t.shape)}, not features over time and space; "
                           "pick a block's output")


def on_finest_time_axis(maps: list[torch.Tensor]) -> list[tuple[torch.Tensor, int]]:
    """(B, ..., T_p, H, W) maps repeated along time to the longest T, with each
    one's repeat factor. SlowFast: slow cell j covers fast frames [jα, (j+1)α),
    which always hold the frame the slow pathway saw (linspace(0, T-1, T/α))."""
    frames = max(m.shape[-3] for m in maps)
    out = []
    for m in maps:
        if frames % m.shape[-3] or m.shape[-2:] != maps[0].shape[-2:]:
            raise ExplainError(f"pathway grids {[tuple(x.shape[-3:]) for x in maps]} do not tile one another")
        r = frames // m.shape[-3]
        out.append((m.repeat_interleave(r, dim=-3), r))
    return out
