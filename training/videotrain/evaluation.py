"""Scoring videos from their clips: top-1/top-5, the confusion matrix, multi-view testing.

A video's prediction is the mean softmax over its views: the clips of the
sampling plan (validation each epoch, as the Worker serves), or clips × crops
for the multi-view test at the end of a run (PyTorchVideo reports Kinetics
accuracy with 10 clips × 3 crops). Under torchrun each rank scores a shard of
the clips and the sums are reduced, so every rank ends with the same numbers.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

from . import distributed
from .precision import autocast
from .transforms import Compose, Div255, Normalize, ShortSideScale

TEST_CROPS = (1, 3)


class UniformCrops:
    """(C, T, H, W) -> (n, C, T, size, size): PyTorchVideo's uniform_crop views.

    n=1: the centre crop (what the Worker serves). n=3: left, centre, right
    along the long side (top, centre, bottom for portrait video), the short
    side centred; offsets ceil((L - size) / 2) for the centre, like CenterCrop.
    """

    def __init__(self, size: int, n: int):
        if n not in TEST_CROPS:
            raise ValueError(f"test crops must be one of {', '.join(map(str, TEST_CROPS))}, got {n}")
        self.size, self.n = size, n

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        if x.dim() != 4 or self.size > min(h, w):
            raise ValueError(f"UniformCrops({self.size}) needs a (C, T, H, W) video at least that large, got {tuple(x.shape)}")
        y0, x0 = (h - self.size + 1) // 2, (w - self.size + 1) // 2
        if self.n == 1:
            offsets = [(y0, x0)]
        elif h > w:
            offsets = [(0, x0), (y0, x0), (h - self.size, x0)]
        else:
            offsets = [(y0, 0), (y0, x0), (y0, w - self.size)]
        return torch.stack([x[..., y : y + self.size, c : c + self.size] for y, c in offsets])

    def __repr__(self) -> str:
        return f"UniformCrops({self.size}, n={self.n})"


def multiview_transform(input_spec: dict, crops: int) -> Compose:
    """The eval transform with `crops` spatial views. Normalize is per pixel and
    channel, so normalizing before cropping gives the same values as after."""
    return Compose(
        [
            Div255(),
            ShortSideScale(int(input_spec["shortSideSize"])),
            Normalize(input_spec["mean"], input_spec["std"]),
            UniformCrops(int(input_spec["cropSize"]), crops),
        ]
    )


class VideoScores:
    """Per-video sums of view softmax, view counts and labels; clip-level loss."""

    def __init__(self, num_videos: int, num_classes: int):
        self.prob_sum = torch.zeros(num_videos, num_classes, dtype=torch.float64)
        self.views = torch.zeros(num_videos, dtype=torch.long)
        self.labels = torch.full((num_videos,), -1, dtype=torch.long)
        self.loss_sum, self.seen = 0.0, 0

    def add(self, logits: torch.Tensor, labels: torch.Tensor, video_index: torch.Tensor) -> None:
        """logits: (B, K) for one view per item, or (B, V, K) for V views of each item."""
        if logits.dim() == 2:
            self.loss_sum += F.cross_entropy(logits, labels, reduction="sum").item()
            self.seen += labels.shape[0]
            self.prob_sum.index_add_(0, video_index, logits.softmax(1).double())
            self.views.index_add_(0, video_index, torch.ones_like(video_index))
        else:
            b, v, k = logits.shape
            flat = logits.reshape(b * v, k)
            self.loss_sum += F.cross_entropy(flat, labels.repeat_interleave(v), reduction="sum").item()
            self.seen += b * v
            self.prob_sum.index_add_(0, video_index, flat.softmax(1).double().view(b, v, k).sum(1))
            self.views.index_add_(0, video_index, torch.full_like(video_index, v))
        self.labels[video_index] = labels

    def reduce(self, d: distributed.Dist) -> None:
        """Sums over ranks (each scored a disjoint shard of the views)."""
        if not d.enabled:
            return
        totals = distributed.all_reduce_sum(torch.tensor([self.loss_sum, float(self.seen)], dtype=torch.float64), d)
        self.loss_sum, self.seen = totals[0].item(), int(totals[1].item())
        distributed.all_reduce_sum(self.prob_sum, d)
        distributed.all_reduce_sum(self.views, d)
        distributed.all_reduce_max(self.labels, d)

    def _ranked(self) -> tuple[torch.Tensor, torch.Tensor]:
        scored = self.views > 0
        probs = self.prob_sum[scored] / self.views[scored, None]
        k = min(5, self.prob_sum.shape[1])
        return probs.topk(k, dim=1).indices, self.labels[scored]

    def summary(self, prefix: str) -> dict:
        topk, truth = self._ranked()
        return {
            f"{prefix}.loss": self.loss_sum / max(self.seen, 1),
            f"{prefix}.top1": (topk[:, 0] == truth).double().mean().item(),
            f"{prefix}.top5": (topk == truth[:, None]).any(1).double().mean().item(),
            f"{prefix}.videos": int((self.views > 0).sum()),
            f"{prefix}.clips": self.seen,
        }

    def confusion(self) -> list[list[int]]:
        """Video counts: row = true label, column = predicted (top-1) label."""
        topk, truth = self._ranked()
        k = self.prob_sum.shape[1]
        m = torch.zeros(k * k, dtype=torch.long).index_add_(0, truth * k + topk[:, 0], torch.ones_like(truth))
        return m.view(k, k).tolist()


@torch.no_grad()
def score(
    model: nn.Module,
    loader,
    device: torch.device,
    dtype: torch.dtype | None,
    scores: VideoScores,
    d: distributed.Dist,
    *,
    progress: bool,
    desc: str,
) -> VideoScores:
    """Runs the model over the loader's clips (5-D batches, or 6-D with views) into `scores`, reduced over ranks."""
    model.eval()
    for batch in tqdm(loader, desc=desc, unit="batch", leave=False, disable=not progress, dynamic_ncols=True):
        x = batch["video"].to(device, non_blocking=True)
        views = x.shape[1] if x.dim() == 6 else None
        with autocast(device, dtype):
            logits = model(x.flatten(0, 1) if views else x).float().cpu()
        scores.add(logits.view(-1, views, logits.shape[-1]) if views else logits, batch["label"], batch["video_index"])
    scores.reduce(d)
    return scores
