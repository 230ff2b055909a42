"""Training and data-loader throughput of the tiny preset on CPU (`npm run bench:train`).

Prints clips/s for train steps on clips already in memory (the model's cost),
for the DataLoader alone (decode + the preset's augmentation, 0 and N worker
processes), and for both together: batches from the loader through forward,
backward and AdamW, which is what an epoch of `npm run train -- --preset tiny`
runs at. The recipe (batch, input, augmentation) is training/presets/tiny.json.

    .venv/bin/python training/bench/train_throughput.py [--data DIR] [--threads 2] [--workers 1] [--steps 10]

Without --data it generates a small synthetic set (4 clips per class) in a temporary directory.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader

from data_loading import clips_per_second as loader_clips_per_second
from loop_options import clips_per_second as step_clips_per_second
from videotrain.data.dataset import ClipDataset, ClipLoader, collate_clips
from videotrain.data.labeled import load_labeled_list
from videotrain.data.synthetic import generate_dataset
from videotrain.models import build_model
from videotrain.recipes import PRESETS_DIR, load_preset
from videotrain.train import TrainOptions, input_spec_for, param_groups, sampling_for
from videotrain.transforms import train_transform


def train_clips_per_second(model: nn.Module, ds: ClipDataset, opts: TrainOptions, epochs: int) -> float:
    """Loader batches through a full training step, timed from the first batch's request."""
    opt = torch.optim.AdamW(param_groups(model, opts.weight_decay), lr=opts.lr)
    loader = ClipLoader(DataLoader(ds, batch_size=opts.batch_size, shuffle=True, drop_last=True, num_workers=opts.workers,
                                   prefetch_factor=4 if opts.workers else None, collate_fn=collate_clips))
    model.train()
    n, t0 = 0, time.perf_counter()
    for epoch in range(epochs):
        ds.set_epoch(epoch)
        for batch in loader:
            loss = nn.functional.cross_entropy(model(batch["video"]), batch["label"])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), opts.grad_clip)
            opt.step()
            n += len(batch["label"])
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="dataset directory with train.txt (default: a fresh synthetic set)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads in the main process")
    ap.add_argument("--workers", type=int, default=1, help="DataLoader worker processes (besides 0)")
    ap.add_argument("--epochs", type=int, default=2, help="passes over the data for the loader measurements")
    ap.add_argument("--steps", type=int, default=10, help="in-memory train steps")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    recipe = load_preset(PRESETS_DIR / "tiny.json")
    opts = TrainOptions(out="unused", **recipe)
    spec = input_spec_for(opts.arch, opts.preset, **opts.input())
    plan = sampling_for(opts.arch, opts.preset, opts.clips_per_video, **opts.input())
    f, c = spec["frames"], spec["cropSize"]
    print(f"preset tiny: {opts.arch}-{opts.preset} {f}x{c}x{c}, batch {opts.batch_size}; "
          f"torch {torch.__version__}, {args.threads} threads, CPU")

    torch.manual_seed(0)
    x = torch.randn(opts.batch_size, 3, f, c, c)
    rate = step_clips_per_second(build_model(opts.arch, opts.preset, 8), x, None, args.steps)
    print(f"  {'train steps, clips in memory':40s} {rate:7.1f} clips/s")

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.data) if args.data else Path(tmp)
        if not args.data:
            generate_dataset(root, clips_per_class_train=4, clips_per_class_val=0, seed=0, workers=2, progress=False)
        items = load_labeled_list(root / "train.txt")
        ds = ClipDataset(items, plan, train_transform(spec), mode="train", seed=opts.seed)
        for workers in (0, args.workers):
            rate = loader_clips_per_second(ds, workers, args.epochs, batch_size=opts.batch_size)
            print(f"  {f'data loader, {workers} workers':40s} {rate:7.1f} clips/s ({len(items)} videos, {args.epochs} epochs)")
        for workers in (0, args.workers):
            torch.manual_seed(0)
            model = build_model(opts.arch, opts.preset, 8)
            o = TrainOptions(out="unused", **{**recipe, "workers": workers})
            rate = train_clips_per_second(model, ds, o, args.epochs)
            print(f"  {f'training (loader + steps), {workers} workers':40s} {rate:7.1f} clips/s")


if __name__ == "__main__":
    main()
