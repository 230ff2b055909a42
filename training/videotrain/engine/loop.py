"""The engine's training loop, shared by finetune and distill.

One process (no torchrun), AdamW with train.py's parameter groups and cosine
schedule, optional autocast (precision.py: bf16/fp16 on CUDA, an explicit
choice on CPU). With a teacher the loss is
    alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T)) + (1 - alpha) * CE(labels)
(Hinton et al.; T^2 keeps the soft term's gradients on the CE scale), the
teacher run by onnxruntime on the clip sampled at its own spec (teacher.py).
Validation scores the student per video on its own sampling plan, like
`videotrain train`; the best epoch (val top-1, then loss) is kept.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ..data.dataset import ClipDataset, skipped_report
from ..data.labeled import LabeledListError, load_labels
from ..distributed import Dist
from ..evaluation import VideoScores, score
from ..precision import amp_name, autocast, grad_scaler, resolve_amp
from ..train import (
    DataError,
    TrainOptions,
    _loader,
    cosine_with_warmup,
    load_items,
    optimizer_step,
    param_groups,
    pick_device,
    resolve_data,
    seed_everything,
)
from ..transforms import HorizontalFlipWithLabel, eval_transform, train_transform
from .config import EngineConfig
from .progress import Progress
from .teacher import OnnxTeacher, derive_input

STEP_EVENT_SECONDS = 10.0  # at most one "step" event this often (and one per epoch's last step)


@dataclass
class Job:
    cfg: EngineConfig
    module: nn.Module
    spec: dict  # the trained model's input spec
    plan: dict  # its sampling plan
    labels: list[str]
    teacher: OnnxTeacher | None
    progress: Progress


@dataclass
class FitResult:
    history: list[dict]
    best: dict[str, Any]
    dataset: dict[str, Any]  # provenance.dataset
    skipped: dict[str, Any]
    teacher_val: dict[str, float] | None
    device: str
    amp: str
    seconds: float


def distill_loss(student: torch.Tensor, teacher: torch.Tensor | None, labels: torch.Tensor, *, alpha: float,
                 temperature: float, label_smoothing: float = 0.0) -> tuple[torch.Tensor, dict[str, float]]:
    """(loss, parts). Without a teacher: cross-entropy alone."""
    ce = F.cross_entropy(student, labels, label_smoothing=label_smoothing)
    if teacher is None:
        return ce, {"ce": ce.item()}
    t = temperature
    kl = F.kl_div(F.log_softmax(student / t, dim=1), F.log_softmax(teacher / t, dim=1), log_target=True,
                  reduction="batchmean") * (t * t)
    return alpha * kl + (1.0 - alpha) * ce, {"ce": ce.item(), "kl": kl.item()}


def _data(job: Job):
    c = job.cfg
    d = c.data
    opts = TrainOptions(out=str(c.out), data=_s(d["dir"]), train_list=_s(d["trainList"]), val_list=_s(d["valList"]),
                        labels=_s(d["labels"]), root=_s(d["root"]))
    data = resolve_data(opts)
    try:
        labels = load_labels(data.labels_file)
    except LabeledListError as e:
        raise DataError(str(e)) from None
    if labels != job.labels:
        raise DataError(f"{data.labels_file}: labels {labels} differ from the model's {job.labels} (same names, same order needed)")
    if job.teacher is not None and job.teacher.labels != labels:
        raise DataError(f"teacher labels {job.teacher.labels} differ from {data.labels_file} ({labels})")
    return data, load_items(data.train_list, data.root, labels), load_items(data.val_list, data.root, labels)


def _s(p) -> str | None:
    return None if p is None else str(p)


def _teacher_val(teacher: OnnxTeacher, items, cfg: EngineConfig, device) -> dict[str, float]:
    """The teacher's own validation numbers (its plan, its eval transform): what the student is measured against."""
    ds = ClipDataset(items, teacher.plan, eval_transform(teacher.spec), mode="eval", seed=cfg.train.seed, on_decode_error="skip")
    loader = _loader(ds, cfg.train.batch_size * 2, False, SimpleNamespace(workers=cfg.train.workers), device, 0)
    scores = VideoScores(len(ds.videos), len(teacher.labels))
    for batch in loader:
        scores.add(teacher.logits(batch["video"]), batch["label"], batch["video_index"])
    return scores.summary("val")


def fit(job: Job) -> FitResult:
    started = time.perf_counter()
    c, t, say, event = job.cfg, job.cfg.train, job.progress.say, job.progress.event
    data, train_items, val_items = _data(job)
    seed_everything(t.seed, False)
    torch.set_num_threads(t.threads or max(1, os.cpu_count() or 1))
    device = pick_device(t.device)
    dtype = resolve_amp(t.amp, device)

    teacher = job.teacher
    src_spec, src_plan = (teacher.spec, teacher.plan) if teacher is not None else (job.spec, job.plan)
    if teacher is not None and abs(src_plan["clipDuration"] - job.plan["clipDuration"]) > 1e-9:
        raise DataError(f"the teacher's clips last {src_plan['clipDuration']} s, the model's {job.plan['clipDuration']} s: "
                        "they must see the same clips")
    flip = HorizontalFlipWithLabel(data.hflip_permutation) if data.hflip_permutation else None
    try:
        train_ds = ClipDataset(train_items, src_plan, train_transform(src_spec), mode="train", seed=t.seed, pair_transform=flip)
        val_ds = ClipDataset(val_items, job.plan, eval_transform(job.spec), mode="eval", seed=t.seed, on_decode_error="skip")
    except ValueError as e:
        raise DataError(f"{data.train_list} / {data.val_list}: {e}") from None

    model = job.module.to(device)
    workers = SimpleNamespace(workers=t.workers)
    batches = len(train_ds) // t.batch_size if len(train_ds) > t.batch_size else 1
    total_steps = t.epochs * batches
    optimizer = torch.optim.AdamW(param_groups(model, t.weight_decay), lr=t.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, cosine_with_warmup(total_steps, int(round(t.warmup_epochs * batches))))
    scaler = grad_scaler(device, dtype)

    teacher_val = None
    if teacher is not None:
        teacher_val = _teacher_val(teacher, val_items, c, device)
        event("teacher", val={"top1": teacher_val["val.top1"], "top5": teacher_val["val.top5"], "loss": teacher_val["val.loss"]})
        say(f"teacher {teacher.path.name}: val top1 {100 * teacher_val['val.top1']:.1f}% top5 {100 * teacher_val['val.top5']:.1f}%")

    history: list[dict] = []
    best: dict[str, Any] = {"top1": -1.0, "loss": math.inf, "epoch": 0}
    best_state: dict[str, torch.Tensor] = {}
    dist = Dist()
    for epoch in range(1, t.epochs + 1):
        t0 = time.perf_counter()
        torch.manual_seed(t.seed * 100_003 + epoch)
        train_ds.set_epoch(epoch)
        loader = _loader(train_ds, t.batch_size, True, workers, device, t.seed * 100_003 + epoch)
        model.train()
        sums = {"loss": 0.0, "ce": 0.0, "kl": 0.0}
        correct = seen = 0
        last_event = time.perf_counter()
        for i, batch in enumerate(loader):
            x_src, y = batch["video"], batch["label"].to(device)
            t_logits = teacher.logits(x_src).to(device) if teacher is not None else None
            x = derive_input(x_src.to(device, non_blocking=True), src_spec, job.spec)
            with autocast(device, dtype):
                logits = model(x)
            loss, parts = distill_loss(logits.float(), t_logits, y, alpha=c.alpha, temperature=c.temperature,
                                       label_smoothing=t.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
            else:
                loss.backward()
            optimizer_step(optimizer, scaler, model.parameters(), t.grad_clip)
            scheduler.step()
            n = y.shape[0]
            sums["loss"] += loss.item() * n
            for k, v in parts.items():
                sums[k] += v * n
            correct += (logits.argmax(1) == y).sum().item()
            seen += n
            if time.perf_counter() - last_event >= STEP_EVENT_SECONDS or i == len(loader) - 1:
                last_event = time.perf_counter()
                event("step", epoch=epoch, step=i + 1, of=len(loader), loss=sums["loss"] / seen)
        scores = score(model, _loader(val_ds, t.batch_size * 2, False, workers, device, 0), device, dtype,
                       VideoScores(len(val_ds.videos), len(job.labels)), dist, progress=False, desc="val")
        val = scores.summary("val")
        stats = {"epoch": epoch, "train.loss": sums["loss"] / max(seen, 1), "train.ce": sums["ce"] / max(seen, 1),
                 **({"train.kl": sums["kl"] / max(seen, 1)} if teacher is not None else {}),
                 "train.top1": correct / max(seen, 1), **val, "lr": scheduler.get_last_lr()[0],
                 "seconds": time.perf_counter() - t0}
        history.append(stats)
        improved = val["val.top1"] > best["top1"] or (val["val.top1"] == best["top1"] and val["val.loss"] < best["loss"])
        if improved:
            best = {"top1": val["val.top1"], "top5": val["val.top5"], "loss": val["val.loss"], "epoch": epoch}
            best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        event("epoch", epoch=epoch, of=t.epochs, loss=stats["train.loss"],
              train={k.split(".", 1)[1]: v for k, v in stats.items() if k.startswith("train.")},
              val={"top1": val["val.top1"], "top5": val["val.top5"], "loss": val["val.loss"]},
              lr=stats["lr"], seconds=stats["seconds"], best=improved)
        say(f"epoch {epoch}/{t.epochs}  loss {stats['train.loss']:.3f}  val top1 {100 * val['val.top1']:.1f}% "
            f"top5 {100 * val['val.top5']:.1f}%  {stats['seconds']:.1f}s{'  *best' if improved else ''}")

    model.load_state_dict(best_state)
    dataset = {"name": data.name, **({"seed": int(data.seed)} if data.seed is not None else {}),
               "classes": len(job.labels), "trainClips": len(train_ds.videos), "valClips": len(val_ds.videos)}
    return FitResult(history=history, best=best, dataset=dataset, skipped=skipped_report(train=train_ds, val=val_ds),
                     teacher_val=teacher_val, device=device.type, amp=amp_name(dtype), seconds=time.perf_counter() - started)


__all__ = ["FitResult", "Job", "distill_loss", "fit"]
