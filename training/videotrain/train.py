"""The training loop: one run from labeled videos to a complete run directory.

AdamW, cosine schedule with linear warmup (stepped per optimizer step),
optional label smoothing, gradient clipping and accumulation, mixed precision
(precision.py), activation checkpointing (checkpointing.py), one process or
many under torchrun (distributed.py; --batch-size is the global batch, split
over the processes, so one command keeps its recipe on 1 or N GPUs).
Validation each epoch averages softmax over the clips of each video (the
manifest's clipsPerVideo) and scores top-1/top-5 per video (evaluation.py);
optionally a multi-view test (clips x crops) of the best weights at the end.
The best epoch by val top-1 is saved (best.safetensors, then
checkpoint.safetensors) and exported; last.ckpt allows --resume. Resuming is
exact without saved RNG states: every epoch reseeds torch from (seed, epoch)
and the data draws from (seed, epoch, index).
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
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from . import distributed
from .checkpointing import checkpoint_blocks
from .data.dataset import ClipDataset, ClipLoader, collate_clips, skipped_report
from .data.labeled import LabeledListError, LabeledVideo, load_labels
from .data.sources import load_video_list
from .evaluation import TEST_CROPS, VideoScores, multiview_transform, score
from .export import export_onnx, export_torchscript
from .mix import MixVideo
from .models import build_model, get_preset, model_kwargs
from .models.profile import count_macs, count_params
from .plots import plot_confusion, plot_curves
from .precision import amp_name, autocast, grad_scaler, resolve_amp
from .pretrained import freeze_backbone, head_prefix, load_pretrained, read_checkpoint
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
from .tblog import ScalarLog
from .transforms import Compose, HorizontalFlipWithLabel, RandAugment, RandomHorizontalFlip, eval_transform, train_transform


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
    preset: str = "tiny"  # the model preset (registry.py): structure and native input
    # The preset file these options came from (recipes.py), recorded in the run.
    recipe: str | None = None
    # Input and sampling (None: the model preset's); frames and crop resize the model's head.
    frames: int | None = None
    crop_size: int | None = None
    short_side_size: int | None = None
    clip_duration: float | None = None
    # The recipe: these defaults are training/presets/tiny.json's (a test keeps them equal).
    epochs: int = 30
    batch_size: int = 16
    lr: float = 5e-3
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
    amp: str = "auto"  # auto: bf16 (fp16 + GradScaler) on CUDA, off elsewhere; see precision.py
    accum_steps: int = 1  # micro-batches per optimizer step
    checkpoint_activations: bool = False
    deterministic: bool = False  # deterministic kernels (slower on GPU)
    # Multi-view test of the best weights after training: clips x crops per
    # video (None / 1: off unless the other asks for more views).
    test_clips: int | None = None
    test_crops: int = 1
    torchscript: bool = False  # also write model.ts.pt
    tensorboard: bool = True
    # Augmentation, all off by default: RandAugment (num_layers, magnitude);
    # MixUp / CutMix alphas (0: off), the fraction of batches mixed.
    rand_augment: tuple[int, float] | None = None
    mixup: float = 0.0
    cutmix: float = 0.0
    mix_prob: float = 1.0
    # Fine-tuning (pretrained.py): the checkpoint to start from, a linear
    # probe (only the head trains), the backbone's learning rate relative to lr.
    pretrained: str | None = None
    freeze_backbone: bool = False
    backbone_lr_mult: float = 1.0

    def input(self) -> dict[str, Any]:
        """The input overrides for the model preset (registry.get_preset's keywords)."""
        return {"frames": self.frames, "crop_size": self.crop_size, "short_side_size": self.short_side_size,
                "clip_duration": self.clip_duration}


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
    # Lists may be `path label` files, Kinetics CSVs or folder-per-class directories.
    for what, f in (("train list", train_list), ("val list", val_list), ("labels file", labels_file)):
        if not (f.is_file() or (f.is_dir() and what != "labels file")):
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


def load_items(list_file: Path, root: Path | None, labels: list[str]) -> list[LabeledVideo]:
    try:
        items = load_video_list(list_file, root, labels)
    except LabeledListError as e:
        raise DataError(str(e)) from None
    if not items:
        raise DataError(f"{list_file}: no videos listed")
    return items


def input_spec_for(arch: str, preset: str, **input: Any) -> dict:
    p = get_preset(arch, preset, **input)
    return {
        "name": "video",
        "layout": "NCTHW",
        "dtype": "float32",
        "frames": p.frames,
        "cropSize": p.crop_size,
        "shortSideSize": p.short_side_size,
        "mean": list(p.mean),
        "std": list(p.std),
        "pixelScale": 255,
        "channelOrder": "RGB",
    }


def sampling_for(arch: str, preset: str, clips_per_video: int | None = None, **input: Any) -> dict:
    p = get_preset(arch, preset, clips_per_video=clips_per_video, **input)
    return {
        "clipSampler": {"kind": "constant_clips_per_video", "clipsPerVideo": p.clips_per_video},
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


def seed_everything(seed: int, deterministic: bool) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        # cuBLAS needs this workspace setting before its first call to be deterministic.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
    # cuDNN autotuning picks kernels by timing, which varies from run to run.
    torch.backends.cudnn.benchmark = not deterministic


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


def param_groups(model: nn.Module, weight_decay: float, lr: float | None = None, backbone_lr_mult: float = 1.0) -> list[dict]:
    # No decay on norms and biases (1-D tensors): decaying BN scales only
    # fights the normalization. With backbone_lr_mult != 1 (fine-tuning), all
    # but the head (pretrained.head_prefix) train at lr · backbone_lr_mult.
    head = head_prefix(model) + "." if backbone_lr_mult != 1 else ""
    groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}
    for name, p in model.named_parameters():
        if p.requires_grad:
            backbone = bool(head) and not name.startswith(head)
            groups.setdefault((backbone, p.ndim > 1), []).append(p)
    return [
        {"params": ps, "weight_decay": weight_decay if decay else 0.0, **({"lr": lr * backbone_lr_mult} if backbone else {})}
        for (backbone, decay), ps in sorted(groups.items(), key=lambda kv: (kv[0][0], not kv[0][1]))
    ]


# ---------------------------------------------------------------- loops


def optimizer_step(optimizer, scaler, parameters, grad_clip: float) -> None:
    """The step after backward: unscale (mixed precision), clip the gradient norm when grad_clip > 0, step, update the scaler."""
    if scaler is not None:
        scaler.unscale_(optimizer)
    if grad_clip > 0:
        nn.utils.clip_grad_norm_(parameters, grad_clip)
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()


def train_one_epoch(net, loader, optimizer, scheduler, scaler, opts, device, dtype, d, tb, epoch, num_epochs, mix=None) -> dict:
    """One pass over the loader; an optimizer step every opts.accum_steps batches
    (the epoch's last step may take fewer). Metrics are summed over ranks.
    mix: MixUp/CutMix on each batch; the loss then takes its soft targets
    (label smoothing is already in them)."""
    net.train()
    total_loss, correct, seen = 0.0, 0, 0
    batches = len(loader)
    bar = tqdm(loader, desc=f"epoch {epoch}/{num_epochs} train", unit="batch", leave=False,
               disable=not (opts.progress and d.main), dynamic_ncols=True)
    for i, batch in enumerate(bar):
        x = batch["video"].to(device, non_blocking=True)
        y = batch["label"].to(device, non_blocking=True)
        x, target = mix(x, y) if mix is not None else (x, y)
        first = i % opts.accum_steps == 0
        group = min(opts.accum_steps, batches - (i - i % opts.accum_steps))  # batches in this step
        stepping = i % opts.accum_steps == group - 1
        # DDP all-reduces gradients in every backward; inside a group only the last needs to.
        with net.no_sync() if d.enabled and not stepping else nullcontext():
            with autocast(device, dtype):
                logits = net(x)
                loss = F.cross_entropy(logits.float(), target, label_smoothing=opts.label_smoothing if mix is None else 0.0)
            if first:
                optimizer.zero_grad(set_to_none=True)
            # The mean over the group's batches, like one batch of their size.
            scaled = loss / group if group > 1 else loss
            if scaler is not None:
                scaler.scale(scaled).backward()
            else:
                scaled.backward()
        if stepping:
            optimizer_step(optimizer, scaler, net.parameters(), opts.grad_clip)
            scheduler.step()
            tb.scalars({"step.loss": loss.item(), "step.lr": scheduler.get_last_lr()[0]}, scheduler.last_epoch)
        n = y.shape[0]
        total_loss += loss.item() * n
        correct += (logits.argmax(1) == y).sum().item()
        seen += n
        bar.set_postfix(loss=f"{total_loss / seen:.3f}", lr=f"{scheduler.get_last_lr()[0]:.2e}")
    bar.close()
    if d.enabled:
        sums = distributed.all_reduce_sum(torch.tensor([total_loss, correct, seen], dtype=torch.float64), d).tolist()
        total_loss, correct, seen = sums[0], int(sums[1]), int(sums[2])
    return {"train.loss": total_loss / max(seen, 1), "train.top1": correct / max(seen, 1)}


# ---------------------------------------------------------------- the run


def _default_id(arch: str, preset: str, dataset: str) -> str:
    raw = f"{arch}-{preset}-{dataset}".lower()
    cleaned = "".join(c if c.isalnum() or c in "._-" else "-" for c in raw).strip("-._")
    return cleaned[:64] or f"{arch}-{preset}"


def _loader(ds, batch_size, shuffle, opts, device, seed, sampler=None):
    """sampler: this rank's items under torchrun (it then does any shuffling)."""
    gen = torch.Generator().manual_seed(seed)
    n = len(sampler) if sampler is not None else len(ds)
    # ClipLoader: videos that fail to decode in a worker are reported to this process's ds.skipped.
    return ClipLoader(DataLoader(
        ds,
        batch_size=batch_size,
        shuffle=shuffle and sampler is None,
        sampler=sampler,
        # A last batch of one clip breaks BatchNorm's batch statistics.
        drop_last=shuffle and n > batch_size,
        num_workers=opts.workers,
        # Not persistent: ClipDataset.set_epoch must reach fresh workers.
        persistent_workers=False,
        prefetch_factor=4 if opts.workers > 0 else None,
        pin_memory=device.type == "cuda",
        worker_init_fn=_worker_init if opts.workers > 0 else None,
        generator=gen,
        collate_fn=collate_clips,
    ))


def _logger(opts: TrainOptions, d: distributed.Dist):
    """Rank 0 alone talks."""
    def log(line: str) -> None:
        if not d.main:
            return
        if opts.progress:
            tqdm.write(line)
        else:
            print(line, flush=True)

    return log


def train(opts: TrainOptions) -> dict:
    """Runs training and export; returns the manifest written to opts.out
    ({} when stop_after ended the session before the last epoch, and on ranks
    other than 0 under torchrun)."""
    d = distributed.from_env()
    try:
        return _train(opts, d)
    finally:
        distributed.teardown(d)


def _train(opts: TrainOptions, d: distributed.Dist) -> dict:
    started = time.perf_counter()
    log = _logger(opts, d)
    epochs, batch_size, lr = opts.epochs, opts.batch_size, opts.lr
    if epochs < 1 or batch_size < 1 or lr <= 0:
        raise DataError("--epochs and --batch-size must be >= 1 and --lr > 0")
    if opts.hflip not in ("auto", "on", "off"):
        raise DataError(f"--hflip must be auto, on or off, got {opts.hflip!r}")
    if opts.accum_steps < 1:
        raise DataError(f"--accum-steps must be >= 1, got {opts.accum_steps}")
    if batch_size % d.world:
        raise DataError(f"--batch-size {batch_size} is the global batch: it must divide by the {d.world} processes")
    if opts.test_crops not in TEST_CROPS or (opts.test_clips is not None and opts.test_clips < 1):
        raise DataError(f"--test-crops must be one of {', '.join(map(str, TEST_CROPS))} and --test-clips >= 1")
    rank_batch = batch_size // d.world
    if opts.freeze_backbone and not opts.pretrained:
        raise DataError("--freeze-backbone trains only the head: it needs --pretrained FILE")
    if opts.backbone_lr_mult < 0:
        raise DataError(f"--backbone-lr-mult must be >= 0, got {opts.backbone_lr_mult}")

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
    train_items = load_items(data.train_list, data.root, labels)
    val_items = load_items(data.val_list, data.root, labels)

    seed_everything(opts.seed, opts.deterministic)
    # Processes on one machine share its cores (CPU training under torchrun).
    torch.set_num_threads(opts.threads or max(1, (os.cpu_count() or 1) // d.local_world))
    device = distributed.setup(d, pick_device(opts.device))
    dtype = resolve_amp(opts.amp, device)
    input_spec = input_spec_for(opts.arch, opts.preset, **opts.input())
    sampling = sampling_for(opts.arch, opts.preset, opts.clips_per_video, **opts.input())

    if opts.hflip == "off" or (opts.hflip == "auto" and data.hflip_permutation is None):
        flip, flip_desc = None, "off"
    elif data.hflip_permutation is not None:
        if len(data.hflip_permutation) != len(labels):
            raise DataError(f"dataset.json: hflipLabelPermutation has {len(data.hflip_permutation)} entries for {len(labels)} labels")
        flip, flip_desc = HorizontalFlipWithLabel(data.hflip_permutation), "with label permutation"
    else:
        flip, flip_desc = None, "plain"
    try:
        rand_augment = RandAugment(magnitude=opts.rand_augment[1], num_layers=opts.rand_augment[0]) if opts.rand_augment else None
        mix = MixVideo(mixup_alpha=opts.mixup, cutmix_alpha=opts.cutmix, label_smoothing=opts.label_smoothing,
                       num_classes=len(labels), mix_prob=opts.mix_prob) if opts.mixup or opts.cutmix else None
    except ValueError as e:
        raise DataError(f"augmentation options: {e}") from None
    transform = train_transform(input_spec, rand_augment=rand_augment)
    if flip_desc == "plain":
        transform = Compose([*transform.transforms, RandomHorizontalFlip()])
    # Skipped videos come back as warnings from ClipDataset and in .skipped.
    try:
        train_ds = ClipDataset(train_items, sampling, transform, mode="train", seed=opts.seed, pair_transform=flip,
                               probe_workers=opts.workers)
        val_ds = ClipDataset(val_items, sampling, eval_transform(input_spec), mode="eval", seed=opts.seed, on_decode_error="skip",
                             probe_workers=opts.workers)
    except ValueError as e:
        raise DataError(f"{data.train_list} / {data.val_list}: {e}") from None

    num_classes = len(labels)
    model = build_model(opts.arch, opts.preset, num_classes, **opts.input())
    kwargs = model_kwargs(opts.arch, opts.preset, num_classes, **opts.input())
    pretrained, parent = None, None
    if opts.pretrained:
        ckpt = read_checkpoint(opts.pretrained)
        pretrained = load_pretrained(model, ckpt, f"{opts.arch} preset {opts.preset} with {num_classes} classes")
        parent = {"id": ckpt.id, "version": ckpt.version, "sha256": ckpt.sha256}
        log(f"pretrained: {ckpt.path} ({ckpt.format}, sha256 {ckpt.sha256[:12]}), {pretrained['head']}")
    if opts.freeze_backbone:
        log(f"backbone frozen: {freeze_backbone(model)} parameters train ({head_prefix(model)})")
    params = count_params(model)
    macs = count_macs(model, (3, input_spec["frames"], input_spec["cropSize"], input_spec["cropSize"]))
    if opts.checkpoint_activations:
        checkpoint_blocks(model)
    model.to(device)
    net = distributed.wrap(model, d, device)  # `model` stays the plain module: its state_dict is what is saved

    # DistributedSampler(drop_last=True) gives each rank floor(n / world) videos.
    rank_videos = len(train_ds) // d.world
    batches_per_epoch = rank_videos // rank_batch if rank_videos > rank_batch else 1
    steps_per_epoch = math.ceil(batches_per_epoch / opts.accum_steps)
    total_steps = epochs * steps_per_epoch
    optimizer = torch.optim.AdamW(param_groups(model, opts.weight_decay, lr, opts.backbone_lr_mult), lr=lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, cosine_with_warmup(total_steps, int(round(opts.warmup_epochs * steps_per_epoch)))
    )
    scaler = grad_scaler(device, dtype)

    train_params = {
        "arch": opts.arch,
        "preset": opts.preset,
        **({"recipe": opts.recipe} if opts.recipe else {}),
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
        "randAugment": {"numLayers": opts.rand_augment[0], "magnitude": opts.rand_augment[1]} if opts.rand_augment else None,
        "mixup": opts.mixup,
        "cutmix": opts.cutmix,
        "mixProb": opts.mix_prob,
        **({"pretrained": pretrained, "freezeBackbone": opts.freeze_backbone, "backboneLrMult": opts.backbone_lr_mult} if pretrained else {}),
        "seed": opts.seed,
        "device": device.type,
        "amp": amp_name(dtype),
        "accumSteps": opts.accum_steps,
        "checkpointActivations": opts.checkpoint_activations,
        "deterministic": opts.deterministic,
        "processes": d.world,
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
    confusion: dict[str, Any] | None = None  # the best epoch's
    start_epoch = 1
    if opts.resume:
        state = load_resume_state(run)
        saved = state["config"]
        for key in ("arch", "preset", "labels", "modelKwargs"):
            if saved[key] != config[key]:
                raise RunError(f"{run.last}: cannot resume: {key} was {saved[key]!r}, now {config[key]!r}")
        if state["epoch"] >= epochs:
            raise RunError(f"{run.last}: already trained {state['epoch']} of {epochs} epochs; raise --epochs to continue")
        # The cosine schedule spans the whole run in optimizer steps: these change its shape.
        for key, flag in (("epochs", "--epochs"), ("batchSize", "--batch-size"), ("accumSteps", "--accum-steps")):
            was = saved["train"].get(key, train_params[key])
            if was != train_params[key]:
                log(f"note: {flag} changed from {was} to {train_params[key]}; the schedule is stretched")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        history, best, start_epoch = state["history"], state["best"], state["epoch"] + 1
        confusion = state.get("confusion")
        log(f"resuming {run.path} at epoch {start_epoch}/{epochs} (best so far {100 * best['top1']:.1f}% at epoch {best['epoch']})")
    if d.main:
        run.create()
        write_json(run.config, config)
        write_labels(run, labels)
    tb = ScalarLog(run.tensorboard if d.main and opts.tensorboard else None)
    if tb.missing:
        log(f"note: {tb.missing}")

    log(
        f"{opts.arch}-{opts.preset}: {params / 1e6:.3f}M params, {macs / 1e9:.4f} GMACs per clip "
        f"({input_spec['frames']}x{input_spec['cropSize']}x{input_spec['cropSize']}); "
        f"{len(train_ds)} train videos, {len(val_ds.videos)} val videos x {sampling['clipSampler']['clipsPerVideo']} clips"
        f"{f' ({len(train_ds.skipped) + len(val_ds.skipped)} unreadable skipped)' if train_ds.skipped or val_ds.skipped else ''}; "
        f"device {device.type}, {torch.get_num_threads()} threads, {opts.workers} workers"
        f"{f', {d.world} processes x batch {rank_batch}' if d.enabled else ''}; amp {amp_name(dtype)}"
        f"{f', {opts.accum_steps} batches per step' if opts.accum_steps > 1 else ''}"
        f"{', activation checkpointing' if opts.checkpoint_activations else ''}",
    )
    last_epoch = epochs if opts.stop_after is None else min(epochs, start_epoch - 1 + opts.stop_after)
    for epoch in range(start_epoch, last_epoch + 1):
        t0 = time.perf_counter()
        # Per-epoch seeds make a resumed run draw what an uninterrupted one would.
        # Each rank its own dropout masks (rank 0 draws what a single process would).
        torch.manual_seed(opts.seed * 100_003 + epoch + 1_000_003 * d.rank)
        train_ds.set_epoch(epoch)
        train_sampler = None
        if d.enabled:
            train_sampler = DistributedSampler(train_ds, num_replicas=d.world, rank=d.rank, shuffle=True, seed=opts.seed, drop_last=True)
            train_sampler.set_epoch(epoch)
        train_loader = _loader(train_ds, rank_batch, True, opts, device, opts.seed * 100_003 + epoch, train_sampler)
        val_loader = _loader(val_ds, rank_batch * 2, False, opts, device, 0, distributed.shard(len(val_ds), d) if d.enabled else None)
        stats = train_one_epoch(net, train_loader, optimizer, scheduler, scaler, opts, device, dtype, d, tb, epoch, epochs, mix)
        distributed.sync_buffers(model, d)
        scores = score(model, val_loader, device, dtype, VideoScores(len(val_ds.videos), num_classes), d,
                       progress=opts.progress and d.main, desc=f"epoch {epoch}/{epochs} val")
        stats.update(scores.summary("val"))
        stats = {"epoch": epoch, **stats, "lr": scheduler.get_last_lr()[0], "seconds": time.perf_counter() - t0}
        history.append(stats)
        tb.scalars({k: v for k, v in stats.items() if k != "epoch"}, epoch)
        improved = stats["val.top1"] > best["top1"] or (stats["val.top1"] == best["top1"] and stats["val.loss"] < best["loss"])
        if improved:
            best = {"top1": stats["val.top1"], "top5": stats["val.top5"], "loss": stats["val.loss"], "epoch": epoch}
            confusion = {"epoch": epoch, "labels": labels, "matrix": scores.confusion()}
        if not d.main:
            continue
        if improved:
            save_weights(model, run.best, {"arch": opts.arch, "preset": opts.preset, "epoch": str(epoch)})
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
                "confusion": confusion,
                "config": config,
            },
        )
        write_json(run.metrics, {"history": history, "best": best, "skipped": skipped_report(train=train_ds, val=val_ds)})
        log(
            f"epoch {epoch}/{epochs}  train loss {stats['train.loss']:.3f} top1 {100 * stats['train.top1']:.1f}%  "
            f"val loss {stats['val.loss']:.3f} top1 {100 * stats['val.top1']:.1f}% top5 {100 * stats['val.top5']:.1f}%  "
            f"lr {stats['lr']:.2e}  {stats['seconds']:.1f}s{'  *best' if improved else ''}",
        )

    tb.close()
    if last_epoch < epochs:
        log(f"stopped after epoch {last_epoch} of {epochs}; continue with --resume (nothing exported yet)")
        return {}

    # Every rank should hold the same weights (DDP averages gradients; buffers come from rank 0).
    digests = distributed.gather_digests(model, d)
    if len(set(digests)) != 1:
        log(f"warning: the {d.world} processes ended with different weights (digests {digests}); rank 0's are saved")
    # The best epoch, not the last, is tested and exported.
    from safetensors.torch import load_file

    best_model = build_model(opts.arch, opts.preset, num_classes, **opts.input())
    if d.main:
        best_model.load_state_dict(load_file(str(run.best)))
    distributed.broadcast_model(best_model.to(device), d)
    test = _multiview_test(best_model, val_items, sampling, input_spec, num_classes, opts, device, dtype, d, rank_batch)
    if not d.main:
        return {}
    save_weights(best_model, run.checkpoint, {"arch": opts.arch, "preset": opts.preset, "epoch": str(best["epoch"])})
    export = export_onnx(best_model, input_spec, run.onnx, exporter=opts.exporter, opset=opts.opset, seed=opts.seed)
    log(
        f"exported {run.onnx} ({export['bytes'] / 1e6:.2f} MB, {opts.exporter}, opset {opts.opset}, "
        f"{export['batchNormalizationNodes']} BatchNormalization nodes): max abs logit diff vs PyTorch {export['maxAbsDiff']:.2e}",
    )
    outputs: dict[str, Any] = {"export": {k: v for k, v in export.items() if k != "ops"}}
    if opts.torchscript:
        outputs["torchscript"] = export_torchscript(best_model, input_spec, run.torchscript, seed=opts.seed)
        log(f"wrote {run.torchscript}: max abs logit diff vs eager PyTorch {outputs['torchscript']['maxAbsDiff']:.2e}")
    plot_curves(history, run.curves, title=f"{opts.arch}-{opts.preset} on {data.name}")
    if confusion is not None:  # None only for a run resumed from a last.ckpt that predates it
        plot_confusion(confusion["matrix"], labels, run.confusion, title=f"validation, epoch {confusion['epoch']} (videos)")
        outputs["confusion"] = confusion
    if test is not None:
        log(f"multi-view test ({test['clipsPerVideo']} clips x {test['crops']} crops): top1 {100 * test['test.top1']:.1f}% top5 {100 * test['test.top5']:.1f}%")
        outputs["test"] = test
        plot_confusion(test["confusion"]["matrix"], labels, run.test_confusion,
                       title=f"multi-view test, {test['clipsPerVideo']} clips x {test['crops']} crops (videos)")
    if d.enabled:
        outputs["distributed"] = {"processes": d.world, "backend": "nccl" if device.type == "cuda" else "gloo", "weightDigests": digests}
    manifest = build_manifest(
        run=run,
        model_id=opts.id or _default_id(opts.arch, opts.preset, data.name),
        version=opts.version or time.strftime("%Y%m%dT%H%M%S", time.gmtime()),
        architecture=f"{opts.arch}-{opts.preset}",
        labels=labels,
        opset=opts.opset,
        parent=parent,
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
            **({"test.top1": test["test.top1"], "test.top5": test["test.top5"]} if test is not None else {}),
        },
    )
    write_manifest(run, manifest)
    total = time.perf_counter() - started
    skipped = skipped_report(train=train_ds, val=val_ds)
    write_json(run.metrics, {"history": history, "best": best, **outputs, "skipped": skipped, "wallSeconds": total})
    if skipped["count"]:
        log(f"warning: {skipped['count']} unreadable videos were skipped (listed with reasons in {run.metrics})")
    log(f"best val top1 {100 * best['top1']:.1f}% (epoch {best['epoch']}); run complete in {total:.0f}s: {run.path}")
    return manifest


def _multiview_test(model, items, sampling, input_spec, num_classes, opts, device, dtype, d, rank_batch) -> dict | None:
    """clips x crops views per video with the mean softmax over all of them; None when not asked for."""
    clips = opts.test_clips or sampling["clipSampler"]["clipsPerVideo"]
    if opts.test_clips is None and opts.test_crops == 1:
        return None
    plan = {**sampling, "clipSampler": {"kind": "constant_clips_per_video", "clipsPerVideo": clips}}
    ds = ClipDataset(items, plan, multiview_transform(input_spec, opts.test_crops), mode="eval", seed=opts.seed, on_decode_error="skip")
    loader = _loader(ds, max(1, 2 * rank_batch // opts.test_crops), False, opts, device, 0, distributed.shard(len(ds), d) if d.enabled else None)
    scores = score(model.to(device), loader, device, dtype, VideoScores(len(ds.videos), num_classes), d,
                   progress=opts.progress and d.main, desc=f"test {clips}x{opts.test_crops} views")
    return {**scores.summary("test"), "clipsPerVideo": clips, "crops": opts.test_crops, "confusion": {"matrix": scores.confusion()}}


__all__ = ["DataError", "TrainOptions", "train"]
