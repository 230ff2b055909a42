"""Prints data-loader throughput (clips/s) of the tiny preset's training input on CPU:
probing (videos/s, 1 and N processes), decode + default augmentation with 0 and N
DataLoader workers, then with RandAugment 2,9 added; and the time per batch of MixVideo.

    .venv/bin/python training/bench/data_loading.py [--data DIR] [--workers 2] [--epochs 2]

Without --data it generates a small synthetic set (4 clips per class) in a temporary directory.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from videotrain.data.dataset import ClipDataset, ClipLoader, collate_clips
from videotrain.data.labeled import load_labeled_list
from videotrain.data.synthetic import generate_dataset
from videotrain.data.video import probe_videos
from videotrain.mix import MixVideo
from videotrain.train import input_spec_for, sampling_for
from videotrain.transforms import RandAugment, train_transform


def clips_per_second(ds: ClipDataset, workers: int, epochs: int, batch_size: int) -> float:
    loader = ClipLoader(DataLoader(ds, batch_size=batch_size, shuffle=True, num_workers=workers,
                                   prefetch_factor=4 if workers else None, collate_fn=collate_clips))
    n, t0 = 0, time.perf_counter()
    for epoch in range(epochs):
        ds.set_epoch(epoch)
        n += sum(len(b["label"]) for b in loader)
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="dataset directory with train.txt (default: a fresh synthetic set)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="torch threads in the main process")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.data) if args.data else Path(tmp)
        if not args.data:
            generate_dataset(root, clips_per_class_train=4, clips_per_class_val=0, seed=0, workers=2, progress=False)
        items = load_labeled_list(root / "train.txt")
        spec, plan = input_spec_for("x3d", "tiny"), sampling_for("x3d", "tiny", None)
        print(f"{len(items)} training videos, tiny preset ({spec['frames']}x{spec['cropSize']}x{spec['cropSize']}), "
              f"{args.epochs} epochs, {args.threads} main thread(s)")
        paths = [p for p, _ in items]
        for workers in (0, args.workers):
            t0 = time.perf_counter()
            probe_videos(paths, workers=workers, min_parallel=0)
            print(f"  probing (PyAV)       {workers} workers: {len(paths) / (time.perf_counter() - t0):7.1f} videos/s"
                  f"{' (with process start-up)' if workers > 1 else ''}")
        for name, aug in (("default recipe", None), ("+ RandAugment 2,9", RandAugment(magnitude=9, num_layers=2))):
            ds = ClipDataset(items, plan, train_transform(spec, rand_augment=aug), mode="train")
            for workers in (0, args.workers):
                rate = clips_per_second(ds, workers, args.epochs, batch_size=8)
                print(f"  {name:20s} {workers} workers: {rate:7.1f} clips/s")

    x = torch.rand(16, 3, spec["frames"], spec["cropSize"], spec["cropSize"])
    y = torch.arange(16) % 8
    mix = MixVideo(num_classes=8, label_smoothing=0.1)
    t0 = time.perf_counter()
    for _ in range(50):
        mix(x, y)
    print(f"  MixVideo on a batch of 16: {1e3 * (time.perf_counter() - t0) / 50:.2f} ms")


if __name__ == "__main__":
    main()
