"""Training curves and the confusion matrix as PNGs (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")  # no display on training boxes; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402


def plot_curves(history: list[dict], path: Path, title: str = "") -> None:
    """Loss (train, val) and val top-1/top-5 against epoch, from metrics.json's history."""
    epochs = [h["epoch"] for h in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    ax_loss.plot(epochs, [h["train.loss"] for h in history], marker="o", label="train")
    ax_loss.plot(epochs, [h["val.loss"] for h in history], marker="o", label="val")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("cross-entropy")
    ax_loss.set_title("loss")
    ax_loss.legend()
    ax_acc.plot(epochs, [100 * h["train.top1"] for h in history], marker="o", label="train top-1 (clips)")
    ax_acc.plot(epochs, [100 * h["val.top1"] for h in history], marker="o", label="val top-1 (videos)")
    ax_acc.plot(epochs, [100 * h["val.top5"] for h in history], marker=".", linestyle="--", label="val top-5 (videos)")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("%")
    ax_acc.set_ylim(0, 100)
    ax_acc.set_title("accuracy")
    ax_acc.legend(loc="lower right")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        if epochs:
            ax.set_xticks(epochs if len(epochs) <= 20 else epochs[:: max(1, len(epochs) // 10)])
    if title:
        fig.suptitle(title)
    _save(fig, path)


def plot_confusion(matrix: list[list[int]], labels: list[str], path: Path, title: str = "") -> None:
    """Video counts, rows true label, columns predicted; cells shaded by the row's share."""
    counts = np.array(matrix, dtype=np.int64)
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = min(4 + 0.45 * len(labels), 30)
    fig, ax = plt.subplots(figsize=(size, size), constrained_layout=True)
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ticks = range(len(labels))
    ax.set_xticks(ticks, labels, rotation=60, ha="right")
    ax.set_yticks(ticks, labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if len(labels) <= 40:  # numbers stay legible up to about this many classes
        for (i, j), n in np.ndenumerate(counts):
            if n:
                ax.text(j, i, str(n), ha="center", va="center", color="white" if share[i, j] > 0.5 else "black", fontsize=8)
    ax.set_title(title or "confusion matrix (videos)")
    _save(fig, path)


def _save(fig, path: Path) -> None:
    # Write beside and rename: a reader never sees half a PNG.
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(path)
