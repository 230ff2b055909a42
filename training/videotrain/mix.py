"""Batch mixing with soft targets: MixUp, CutMix and MixVideo, as PyTorchVideo's.

They take a batch (N, C, T, H, W) with integer labels (N,) and return the
mixed batch and soft targets (N, num_classes) whose rows sum to 1; label
smoothing is folded into the targets (use a plain cross-entropy on them).
Each sample is mixed with the batch reversed (sample i with N−1−i), one λ per
batch; CutMix pastes the same box into every frame. Unlike PyTorchVideo's,
the input batch is not modified in place. Random draws come from torch's
global RNG, like PyTorchVideo's.
"""
from __future__ import annotations

import torch


def _check_smoothing(smoothing: float) -> None:
    if not 0 <= smoothing < 1:
        raise ValueError(f"label smoothing must be in [0, 1), got {smoothing}")


def smooth_one_hot(labels: torch.Tensor, num_classes: int, smoothing: float = 0.0) -> torch.Tensor:
    """One-hot targets with label smoothing: 1 − s + s/K for the label, s/K elsewhere."""
    _check_smoothing(smoothing)
    off = smoothing / num_classes
    out = torch.full((labels.shape[0], num_classes), off, dtype=torch.float32, device=labels.device)
    return out.scatter_(1, labels.long().view(-1, 1), 1.0 - smoothing + off)


def _mixed_targets(labels: torch.Tensor, lam: float, num_classes: int, smoothing: float) -> torch.Tensor:
    one_hot = smooth_one_hot(labels, num_classes, smoothing)
    return lam * one_hot + (1.0 - lam) * one_hot.flip(0)


def _check_batch(x: torch.Tensor, labels: torch.Tensor, name: str) -> None:
    if x.dim() not in (4, 5) or labels.dim() != 1 or labels.shape[0] != x.shape[0]:
        raise ValueError(f"{name} expects a batch (N, C, T, H, W) and N labels, got {tuple(x.shape)} and {tuple(labels.shape)}")


def _beta(alpha: float) -> float:
    return float(torch.distributions.Beta(alpha, alpha).sample())


class MixUp:
    """x = λ·x + (1 − λ)·x.flip(0), λ ~ Beta(alpha, alpha); targets mixed with the same λ."""

    def __init__(self, alpha: float = 1.0, label_smoothing: float = 0.0, num_classes: int = 400):
        if alpha <= 0:
            raise ValueError(f"MixUp alpha must be > 0, got {alpha}")
        _check_smoothing(label_smoothing)
        self.alpha, self.label_smoothing, self.num_classes = alpha, label_smoothing, num_classes

    def __call__(self, x: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _check_batch(x, labels, "MixUp")
        lam = _beta(self.alpha)
        return lam * x + (1.0 - lam) * x.flip(0), _mixed_targets(labels, lam, self.num_classes, self.label_smoothing)

    def __repr__(self) -> str:
        return f"MixUp(alpha={self.alpha}, label_smoothing={self.label_smoothing}, num_classes={self.num_classes})"


def cutmix_box(height: int, width: int, lam: float) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1): a box of about (1 − λ) of the frame around a uniform random centre, clipped to the frame."""
    ratio = (1.0 - lam) ** 0.5
    cut_h, cut_w = int(height * ratio), int(width * ratio)
    cy = int(torch.randint(height, (1,)).item())
    cx = int(torch.randint(width, (1,)).item())
    return (
        min(max(cy - cut_h // 2, 0), height),
        min(max(cy + cut_h // 2, 0), height),
        min(max(cx - cut_w // 2, 0), width),
        min(max(cx + cut_w // 2, 0), width),
    )


class CutMix:
    """Paste a box of x.flip(0) into x (all frames); λ becomes the exact unpasted fraction of the frame."""

    def __init__(self, alpha: float = 1.0, label_smoothing: float = 0.0, num_classes: int = 400):
        if alpha <= 0:
            raise ValueError(f"CutMix alpha must be > 0, got {alpha}")
        _check_smoothing(label_smoothing)
        self.alpha, self.label_smoothing, self.num_classes = alpha, label_smoothing, num_classes

    def __call__(self, x: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _check_batch(x, labels, "CutMix")
        h, w = x.shape[-2:]
        y0, y1, x0, x1 = cutmix_box(h, w, _beta(self.alpha))
        lam = 1.0 - (y1 - y0) * (x1 - x0) / (h * w)
        out = x.clone()
        out[..., y0:y1, x0:x1] = x.flip(0)[..., y0:y1, x0:x1]
        return out, _mixed_targets(labels, lam, self.num_classes, self.label_smoothing)

    def __repr__(self) -> str:
        return f"CutMix(alpha={self.alpha}, label_smoothing={self.label_smoothing}, num_classes={self.num_classes})"


class MixVideo:
    """CutMix with probability cutmix_prob, else MixUp (PyTorchVideo's MixVideo).

    An alpha of 0 turns that method off (the other is always used). mix_prob
    (timm's `prob`; not in PyTorchVideo) mixes only that fraction of the
    batches; the others get plain smoothed one-hot targets.
    """

    def __init__(
        self,
        cutmix_prob: float = 0.5,
        mixup_alpha: float = 1.0,
        cutmix_alpha: float = 1.0,
        label_smoothing: float = 0.0,
        num_classes: int = 400,
        mix_prob: float = 1.0,
    ):
        if mixup_alpha < 0 or cutmix_alpha < 0 or (mixup_alpha == 0 and cutmix_alpha == 0):
            raise ValueError(f"need alphas >= 0, at least one > 0; got mixup {mixup_alpha}, cutmix {cutmix_alpha}")
        if not 0 <= cutmix_prob <= 1 or not 0 < mix_prob <= 1:
            raise ValueError(f"need cutmix_prob in [0, 1] and mix_prob in (0, 1]; got {cutmix_prob}, {mix_prob}")
        _check_smoothing(label_smoothing)
        self.mixup = MixUp(mixup_alpha, label_smoothing, num_classes) if mixup_alpha > 0 else None
        self.cutmix = CutMix(cutmix_alpha, label_smoothing, num_classes) if cutmix_alpha > 0 else None
        self.cutmix_prob, self.mix_prob = cutmix_prob, mix_prob
        self.label_smoothing, self.num_classes = label_smoothing, num_classes

    def __call__(self, x: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.mix_prob < 1 and torch.rand(1).item() >= self.mix_prob:
            _check_batch(x, labels, "MixVideo")
            return x, smooth_one_hot(labels, self.num_classes, self.label_smoothing)
        if self.mixup is None:
            return self.cutmix(x, labels)
        if self.cutmix is None:
            return self.mixup(x, labels)
        return self.cutmix(x, labels) if torch.rand(1).item() < self.cutmix_prob else self.mixup(x, labels)

    def __repr__(self) -> str:
        return f"MixVideo(cutmix_prob={self.cutmix_prob}, mixup={self.mixup}, cutmix={self.cutmix}, mix_prob={self.mix_prob})"
