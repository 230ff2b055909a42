"""The training loop: one run from labeled videos to a complete run directory.

AdamW, cosine schedule with linear warmup (stepped per batch), optional label
smoothing, gradient clipping, bf16 autocast on CUDA (fp16 + GradScaler where
bf16 is missing). Validation each epoch averages softmax over the clips of each
video (the manifest's clipsPerVideo) and scores top-1/top-5 per video. The
best epoch by val top-1 is saved and exported; last.ckpt allows --resume.
"""

from __future__ import annotations

import math
import os
import random
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader
from tqdm import tqdm

from .data.dataset import ClipDataset
from .data.labeled import LabeledListError, load_labeled_list, load_labels
from .export import export_onnx
from .models import build_model, get_preset, model_kwargs
from .models.profile import count_macs, count_params
from .plots import plot_curves
from .runs import (
    RunDir,
    RunError,
    build_manifest,
    load_resume_state,
    read_json,
    save_resume_state,
    save_weights,
    write_json,
    write_labels,
    write_manifest,
)
from .transforms import Compose, HorizontalFlipWithLabel, RandomHorizontalFlip, eval_transform, train_transform

# PyTorchVideo's Kinetics normalization; the synthetic set uses it too.
MEAN = [0.45, 0.45, 0.45]
STD = [0.225, 0.225, 0.225]


class DataError(ValueError):
    """A dataset the user pointed at that cannot be used (missing lists, bad labels)."""


@dataclass
class TrainOptions:
    out: str
    data: str | None = None
    train_list: str | None = None
    val_list: str | None = None
    labels: str | None = None
    root: str | None = None
    arch: str = "x3d"
    preset: str = "tiny"
    epochs: int | None = None  # None: the preset's default (also batch_size, lr)
    batch_size: int | None = None
    lr: float | None = None
    weight_decay: float = 0.05
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.0
    grad_clip: float = 1.0
    clips_per_video: int | None = None
    hflip: str = "auto"  # auto: mirror with the dataset's label permutation if it declares one
    workers: int = 2
    threads: int | None = None
    seed: int = 0
    device: str = "auto"
    id: str | None = None
    version: str | None = None
    exporter: str = "torchscript"
    opset: int = 17
    resume: bool = False
    # Train at most this many epochs in this invocation, then stop without
    # exporting (continue with resume): for time-sliced or preemptible jobs.
    stop_after: int | None = None
    progress: bool = True


# ---------------------------------------------------------------- data


@dataclass
class DataSpec:
    train_list: Path
    val_list: Path
    labels_file: Path
    root: Path | None
    name: str
    seed: int | None
    hflip_permutation: list[int] | None


def resolve_data(opts: TrainOptions) -> DataSpec:
    """Finds the lists and labels from --data DIR or the explicit flags."""
    info: dict = {}
    if opts.data is not None:
        d = Path(opts.data)
        if not d.is_dir():
            raise DataError(f"{d}: --data must be a dataset directory (with train.txt, val.txt, labels.txt)")
        train_list = Path(opts.train_list) if opts.train_list else d / "train.txt"
        val_list = Path(opts.val_list) if opts.val_list else d / "val.txt"
        labels_file = Path(opts.labels) if opts.labels else d / "labels.txt"
        if (d / "dataset.json").is_file():
            info = read_json(d / "dataset.json")
        name = info.get("name") or d.resolve().name
    else:
        missing = [f for f, v in (("--train-list", opts.train_list), ("--val-list", opts.val_list), ("--labels", opts.labels)) if not v]
        if missing:
            raise DataError(f"give --data DIR, or all of --train-list, --val-list and --labels (missing {', '.join(missing)})")
        train_list, val_list, labels_file = Path(opts.train_list), Path(opts.val_list), Path(opts.labels)
        name = train_list.resolve().parent.name
    for what, f in (("train list", train_list), ("val list", val_list), ("labels file", labels_file)):
        if not f.is_file():
            raise DataError(f"{f}: {what} not found")
    return DataSpec(
        train_list=train_list,
        val_list=val_list,
        labels_file=labels_file,
        root=Path(opts.root) if opts.root else None,
        name=name,
        seed=info.get("seed"),
        hflip_permutation=info.get("generator", {}).get("hflipLabelPermutation"),
    )


def load_items(list_file: Path, root: Path | None, num_labels: int) -> list[tuple[str, int]]:
    try:
        items = load_labeled_list(list_file, root)
    except LabeledListError as e:
        raise DataError(str(e)) from None
    if not items:
        raise DataError(f"{list_file}: no videos listed")
    bad = [(p, y) for p, y in items if y >= num_labels]
    if bad:
        raise DataError(f"{list_file}: label {bad[0][1]} (for {bad[0][0]}) is out of range: the labels file has {num_labels} labels")
    return items


def input_spec_for(arch: str, preset: str) -> dict:
    p = get_preset(arch, preset)
    return {
        "name": "video",
        "layout": "NCTHW",
        "dtype": "float32",
        "frames": p.frames,
        "cropSize": p.crop_size,
        "shortSideSize": p.short_side_size,
        "mean": MEAN,
        "std": STD,
        "pixelScale": 255,
        "channelOrder": "RGB",
    }


def sampling_for(arch: str, preset: str, clips_per_video: int | None) -> dict:
    p = get_preset(arch, preset)
    return {
        "clipSampler": {"kind": "constant_clips_per_video", "clipsPerVideo": clips_per_video or p.clips_per_video},
        "clipDuration": p.clip_duration,
        "frames": p.frames,
        "frameSelector": "uniform",
    }


# ---------------------------------------------------------------- device, AMP, seeds


def pick_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DataError("--device cuda: this torch build has no usable CUDA device (see `videotrain check`)")
    return torch.device(name)


def amp_dtype(device: torch.device) -> torch.dtype | None:
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _worker_init(worker_id: int) -> None:
    # Each worker gets its own stream for anything outside ClipDataset's own
    # (seed, epoch, index) randomness.
    s = torch.initial_seed() % 2**32
    random.seed(s)
    np.random.seed(s)


def cosine_with_warmup(total_steps: int, warmup_steps: int):
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    # No decay on norms and biases (1-D tensors): decaying BN scales only
    # fights the normalization.
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (no_decay if p.ndim <= 1 else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


# ---------------------------------------------------------------- loops


def train_one_epoch(model, loader, optimizer, scheduler, scaler, opts, device, epoch, num_epochs) -> dict:
    model.train()
    dtype = amp_dtype(device)
    total_loss, correct, seen = 0.0, 0, 0
    bar = tqdm(loader, desc=f"epoch {epoch}/{num_epochs} train", unit="batch", leave=False, disable=not opts.progress, dynamic_ncols=True)
    for batch in bar:
        x = batch["video"].to(device, non_blocking=True)
        y = batch["label"].to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext():
            logits = model(x)
            loss = F.cross_entropy(logits.float(), y, label_smoothing=opts.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
        else:
            loss.backward()
        if opts.grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), opts.grad_clip)
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        scheduler.step()
        n = y.shape[0]
        total_loss += loss.item() * n
        correct += (logits.argmax(1) == y).sum().item()
        seen += n
        bar.set_postfix(loss=f"{total_loss / seen:.3f}", lr=f"{scheduler.get_last_lr()[0]:.2e}")
    bar.close()
    return {"train.loss": total_loss / max(seen, 1), "train.top1": correct / max(seen, 1)}


@torch.no_grad()
def validate(model, loader, device, num_videos: int, num_classes: int, progress: bool, desc: str = "val") -> dict:
    """Clip-level loss; video-level top-1/top-5 from the mean softmax over each video's clips."""
    model.eval()
    dtype = amp_dtype(device)
    prob_sum = torch.zeros(num_videos, num_classes, dtype=torch.float64)
    clips = torch.zeros(num_videos, dtype=torch.long)
    labels = torch.full((num_videos,), -1, dtype=torch.long)
    total_loss, seen = 0.0, 0
    for batch in tqdm(loader, desc=desc, unit="batch", leave=False, disable=not progress, dynamic_ncols=True):
        x = batch["video"].to(device, non_blocking=True)
        y = batch["label"]
        with torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext():
            logits = model(x).float().cpu()
        total_loss += F.cross_entropy(logits, y, reduction="sum").item()
        seen += y.shape[0]
        vi = batch["video_index"]
        prob_sum.index_add_(0, vi, logits.softmax(1).double())
        clips.index_add_(0, vi, torch.ones_like(vi))
        labels[vi] = y
    scored = clips > 0
    probs = prob_sum[scored] / clips[scored, None]
    truth = labels[scored]
    k = min(5, num_classes)
    topk = probs.topk(k, dim=1).indices
    return {
        "val.loss": total_loss / max(seen, 1),
        "val.top1": (topk[:, 0] == truth).double().mean().item(),
        "val.top5": (topk == truth[:, None]).any(1).double().mean().item(),
        "val.videos": int(scored.sum()),
        "val.clips": seen,
    }


# ---------------------------------------------------------------- the run


def _default_id(arch: str, preset: str, dataset: str) -> str:
    raw = f"{arch}-{preset}-{dataset}".lower()
    cleaned = "".join(c if c.isalnum() or c in "._-" else "-" for c in raw).strip("-._")
    return cleaned[:64] or f"{arch}-{preset}"


def _loader(ds, batch_size, shuffle, opts, device, seed):
    gen = torch.Generator().manual_seed(seed)
    return DataLoader(
        ds,
        batch_size=batch_size,
        shuffle=shuffle,
        # A last batch of one clip breaks BatchNorm's batch statistics.
        drop_last=shuffle and len(ds) > batch_size,
        num_workers=opts.workers,
        # Not persistent: ClipDataset.set_epoch must reach fresh workers.
        persistent_workers=False,
        prefetch_factor=4 if opts.workers > 0 else None,
        pin_memory=device.type == "cuda",
        worker_init_fn=_worker_init if opts.workers > 0 else None,
        generator=gen,
    )


def _log(opts: TrainOptions, line: str) -> None:
    if opts.progress:
        tqdm.write(line)
    else:
        print(line, flush=True)


def train(opts: TrainOptions) -> dict:
    """Runs training and export; returns the manifest written to opts.out
    ({} when stop_after ended the session before the last epoch)."""
    started = time.perf_counter()
    preset = get_preset(opts.arch, opts.preset)
    epochs = opts.epochs or preset.epochs
    batch_size = opts.batch_size or preset.batch_size
    lr = opts.lr or preset.lr
    if epochs < 1 or batch_size < 1 or lr <= 0:
        raise DataError("--epochs and --batch-size must be >= 1 and --lr > 0")
    if opts.hflip not in ("auto", "on", "off"):
        raise DataError(f"--hflip must be auto, on or off, got {opts.hflip!r}")

    run = RunDir(opts.out)
    if not opts.resume and (run.last.exists() or run.manifest.exists()):
        raise RunError(f"{run.path}: already holds a run; pass --resume to continue it, or choose another --out")
    data = resolve_data(opts)
    try:
        labels = load_labels(data.labels_file)
    except LabeledListError as e:
        raise DataError(str(e)) from None
    if len(labels) < 2:
        raise DataError(f"{data.labels_file}: needs at least 2 labels, has {len(labels)}")
    train_items = load_items(data.train_list, data.root, len(labels))
    val_items = load_items(data.val_list, data.root, len(labels))

    seed_everything(opts.seed)
    torch.set_num_threads(opts.threads or os.cpu_count() or 1)
    device = pick_device(opts.device)
    input_spec = input_spec_for(opts.arch, opts.preset)
    sampling = sampling_for(opts.arch, opts.preset, opts.clips_per_video)

    if opts.hflip == "off" or (opts.hflip == "auto" and data.hflip_permutation is None):
        flip, flip_desc = None, "off"
    elif data.hflip_permutation is not None:
        if len(data.hflip_permutation) != len(labels):
            raise DataError(f"dataset.json: hflipLabelPermutation has {len(data.hflip_permutation)} entries for {len(labels)} labels")
        flip, flip_desc = HorizontalFlipWithLabel(data.hflip_permutation), "with label permutation"
    else:
        flip, flip_desc = None, "plain"
    transform = train_transform(input_spec)
    if flip_desc == "plain":
        transform = Compose([*transform.transforms, RandomHorizontalFlip()])
    # Skipped videos come back as warnings from ClipDataset and in .skipped.
    try:
        train_ds = ClipDataset(train_items, sampling, transform, mode="train", seed=opts.seed, pair_transform=flip)
        val_ds = ClipDataset(val_items, sampling, eval_transform(input_spec), mode="eval", seed=opts.seed)
    except ValueError as e:
        raise DataError(f"{data.train_list} / {data.val_list}: {e}") from None

    num_classes = len(labels)
    model = build_model(opts.arch, opts.preset, num_classes)
    kwargs = model_kwargs(opts.arch, opts.preset, num_classes)
    params = count_params(model)
    macs = count_macs(model, (3, input_spec["frames"], input_spec["cropSize"], input_spec["cropSize"]))
    model.to(device)

    steps_per_epoch = max(1, len(train_ds) // batch_size if len(train_ds) > batch_size else 1)
    total_steps = epochs * steps_per_epoch
    optimizer = torch.optim.AdamW(param_groups(model, opts.weight_decay), lr=lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, cosine_with_warmup(total_steps, int(round(opts.warmup_epochs * steps_per_epoch)))
    )
    scaler = torch.amp.GradScaler("cuda") if amp_dtype(device) == torch.float16 else None

    train_params = {
        "arch": opts.arch,
        "preset": opts.preset,
        "epochs": epochs,
        "batchSize": batch_size,
        "lr": lr,
        "weightDecay": opts.weight_decay,
        "warmupEpochs": opts.warmup_epochs,
        "labelSmoothing": opts.label_smoothing,
        "gradClip": opts.grad_clip,
        "optimizer": "AdamW",
        "schedule": "cosine with linear warmup",
        "hflip": flip_desc,
        "seed": opts.seed,
        "device": device.type,
        "amp": str(amp_dtype(device)).replace("torch.", "") if amp_dtype(device) else "off",
    }
    config = {
        "arch": opts.arch,
        "preset": opts.preset,
        "modelKwargs": kwargs,
        "numClasses": num_classes,
        "labels": labels,
        "input": input_spec,
        "sampling": sampling,
        "train": train_params,
        "params": params,
        "macs": macs,
    }

    history: list[dict] = []
    best: dict[str, Any] = {"top1": -1.0, "loss": math.inf, "epoch": 0}
    start_epoch = 1
    if opts.resume:
        state = load_resume_state(run)
        saved = state["config"]
        for key in ("arch", "preset", "labels", "modelKwargs"):
            if saved[key] != config[key]:
                raise RunError(f"{run.last}: cannot resume: {key} was {saved[key]!r}, now {config[key]!r}")
        if state["epoch"] >= epochs:
            raise RunError(f"{run.last}: already trained {state['epoch']} of {epochs} epochs; raise --epochs to continue")
        if saved["train"]["epochs"] != epochs:
            # The cosine schedule spans the whole run; a new length restarts its shape.
            _log(opts, f"note: --epochs changed from {saved['train']['epochs']} to {epochs}; the schedule is stretched")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        history, best, start_epoch = state["history"], state["best"], state["epoch"] + 1
        _log(opts, f"resuming {run.path} at epoch {start_epoch}/{epochs} (best so far {100 * best['top1']:.1f}% at epoch {best['epoch']})")
    run.create()
    write_json(run.config, config)
    write_labels(run, labels)

    _log(
        opts,
        f"{opts.arch}-{opts.preset}: {params / 1e6:.3f}M params, {macs / 1e9:.4f} GMACs per clip "
        f"({input_spec['frames']}x{input_spec['cropSize']}x{input_spec['cropSize']}); "
        f"{len(train_ds)} train videos, {len(val_ds.videos)} val videos x {sampling['clipSampler']['clipsPerVideo']} clips"
        f"{f' ({len(train_ds.skipped) + len(val_ds.skipped)} unreadable skipped)' if train_ds.skipped or val_ds.skipped else ''}; "
        f"device {device.type}, {torch.get_num_threads()} threads, {opts.workers} workers",
    )
    last_epoch = epochs if opts.stop_after is None else min(epochs, start_epoch - 1 + opts.stop_after)
    for epoch in range(start_epoch, last_epoch + 1):
        t0 = time.perf_counter()
        # Per-epoch seeds make a resumed run draw what an uninterrupted one would.
        torch.manual_seed(opts.seed * 100_003 + epoch)
        train_ds.set_epoch(epoch)
        train_loader = _loader(train_ds, batch_size, True, opts, device, opts.seed * 100_003 + epoch)
        val_loader = _loader(val_ds, batch_size * 2, False, opts, device, 0)
        stats = train_one_epoch(model, train_loader, optimizer, scheduler, scaler, opts, device, epoch, epochs)
        stats.update(validate(model, val_loader, device, len(val_ds.videos), num_classes, opts.progress, f"epoch {epoch}/{epochs} val"))
        stats = {"epoch": epoch, **stats, "lr": scheduler.get_last_lr()[0], "seconds": time.perf_counter() - t0}
        history.append(stats)
        improved = stats["val.top1"] > best["top1"] or (stats["val.top1"] == best["top1"] and stats["val.loss"] < best["loss"])
        if improved:
            best = {"top1": stats["val.top1"], "top5": stats["val.top5"], "loss": stats["val.loss"], "epoch": epoch}
            save_weights(model, run.checkpoint, {"arch": opts.arch, "preset": opts.preset, "epoch": str(epoch)})
        save_resume_state(
            run,
            {
                "epoch": epoch,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "scaler": scaler.state_dict() if scaler is not None else None,
                "history": history,
                "best": best,
                "config": config,
            },
        )
        write_json(run.metrics, {"history": history, "best": best})
        _log(
            opts,
            f"epoch {epoch}/{epochs}  train loss {stats['train.loss']:.3f} top1 {100 * stats['train.top1']:.1f}%  "
            f"val loss {stats['val.loss']:.3f} top1 {100 * stats['val.top1']:.1f}% top5 {100 * stats['val.top5']:.1f}%  "
            f"lr {stats['lr']:.2e}  {stats['seconds']:.1f}s{'  *best' if improved else ''}",
        )

    if last_epoch < epochs:
        _log(opts, f"stopped after epoch {last_epoch} of {epochs}; continue with --resume (nothing exported yet)")
        return {}

    # Export the best epoch, not the last.
    from safetensors.torch import load_file

    best_model = build_model(opts.arch, opts.preset, num_classes)
    best_model.load_state_dict(load_file(str(run.checkpoint)))
    export = export_onnx(best_model, input_spec, run.onnx, exporter=opts.exporter, opset=opts.opset, seed=opts.seed)
    _log(
        opts,
        f"exported {run.onnx} ({export['bytes'] / 1e6:.2f} MB, {opts.exporter}, opset {opts.opset}, "
        f"{export['batchNormalizationNodes']} BatchNormalization nodes): max abs logit diff vs PyTorch {export['maxAbsDiff']:.2e}",
    )
    plot_curves(history, run.curves, title=f"{opts.arch}-{opts.preset} on {data.name}")
    manifest = build_manifest(
        run=run,
        model_id=opts.id or _default_id(opts.arch, opts.preset, data.name),
        version=opts.version or time.strftime("%Y%m%dT%H%M%S", time.gmtime()),
        architecture=f"{opts.arch}-{opts.preset}",
        labels=labels,
        opset=opts.opset,
        input_spec=input_spec,
        sampling=sampling,
        passes=[
            {"name": "train", "params": {**train_params, "bestEpoch": best["epoch"], "params": params, "macs": macs}},
            {
                "name": "export-onnx",
                "params": {"exporter": opts.exporter, "opset": opts.opset},
                "summary": (
                    f"max abs diff {export['maxAbsDiff']:.2e} between PyTorch and onnxruntime (CPU) logits; "
                    f"{export['batchNormalizationNodes']} BatchNormalization nodes"
                ),
            },
        ],
        dataset={
            "name": data.name,
            **({"seed": int(data.seed)} if data.seed is not None else {}),
            "classes": num_classes,
            "trainClips": len(train_ds.videos),
            "valClips": len(val_ds.videos),
        },
        metrics={
            "val.top1": best["top1"],
            "val.top5": best["top5"],
            "val.loss": best["loss"],
            "export.maxAbsDiff": export["maxAbsDiff"],
        },
    )
    write_manifest(run, manifest)
    total = time.perf_counter() - started
    write_json(run.metrics, {"history": history, "best": best, "export": {k: v for k, v in export.items() if k != "ops"}, "wallSeconds": total})
    _log(opts, f"best val top1 {100 * best['top1']:.1f}% (epoch {best['epoch']}); run complete in {total:.0f}s: {run.path}")
    return manifest


__all__ = ["DataError", "TrainOptions", "train", "validate"]
