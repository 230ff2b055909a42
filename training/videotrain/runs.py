"""The run directory: what one training run leaves behind.

    checkpoint.safetensors  the run's model: the best weights (by val top-1), PyTorchVideo names
    config.json             arch, preset, builder kwargs, labels, input spec
    best.safetensors        the best weights so far (while training; checkpoint.safetensors at the end)
    last.ckpt               resume state (model, optimizer, scheduler, grad scaler, epoch)
    teacher.onnx            exported from the best weights, parity-checked
    model.ts.pt             TorchScript of the best weights (--torchscript), parity-checked
    manifest.json           the contract (contract/manifest.ts), validated
    metrics.json            per-epoch history, best epoch, confusion matrix, multi-view test
    labels.txt              one label per line
    curves.png              loss and accuracy per epoch
    confusion.png           the best epoch's validation confusion matrix
    test-confusion.png      the multi-view test's (--test-clips / --test-crops)
    tensorboard/            TensorBoard event files (`tensorboard --logdir RUN`)
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version as package_version
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from .manifest import load_manifest, sha256_file, validate_manifest
from .models import build_from_config

MANIFEST_SCHEMA_VERSION = 1


def videotrain_version() -> str:
    try:
        return package_version("videotrain")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


class RunError(ValueError):
    """A run directory that is missing, incomplete or inconsistent."""


class RunDir:
    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.checkpoint = self.path / "checkpoint.safetensors"
        self.config = self.path / "config.json"
        self.last = self.path / "last.ckpt"
        self.onnx = self.path / "teacher.onnx"
        self.manifest = self.path / "manifest.json"
        self.metrics = self.path / "metrics.json"
        self.labels = self.path / "labels.txt"
        self.curves = self.path / "curves.png"
        self.best = self.path / "best.safetensors"
        self.torchscript = self.path / "model.ts.pt"
        self.confusion = self.path / "confusion.png"
        self.test_confusion = self.path / "test-confusion.png"
        self.tensorboard = self.path / "tensorboard"

    def create(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)

    def require(self, *files: Path) -> None:
        if not self.path.is_dir():
            raise RunError(f"{self.path}: no such run directory")
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            raise RunError(f"{self.path}: incomplete run, missing {', '.join(missing)}")


def _atomic_write(path: Path, data: bytes) -> None:
    # Write beside and rename: an interrupted run never leaves a torn file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, obj: Any) -> None:
    _atomic_write(path, (json.dumps(obj, indent=2) + "\n").encode())


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise RunError(f"{path}: file not found") from None
    except json.JSONDecodeError as e:
        raise RunError(f"{path}: not valid JSON: {e}") from None


def write_labels(run: RunDir, labels: list[str]) -> None:
    _atomic_write(run.labels, "".join(f"{label}\n" for label in labels).encode())


def save_weights(model: nn.Module, path: Path, metadata: dict[str, str]) -> None:
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        save_file(state, tmp, metadata=metadata)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def save_resume_state(run: RunDir, state: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=run.path, prefix=".last.ckpt.")
    os.close(fd)
    try:
        torch.save(state, tmp)
        os.replace(tmp, run.last)
    finally:
        Path(tmp).unlink(missing_ok=True)


def load_resume_state(run: RunDir) -> dict[str, Any]:
    if not run.last.is_file():
        raise RunError(f"{run.last}: not found, nothing to resume (drop --resume to start a new run)")
    try:
        # Our own file, holding optimizer/scheduler state and RNG states (not
        # only tensors), hence weights_only=False.
        return torch.load(run.last, map_location="cpu", weights_only=False)
    except Exception as e:
        raise RunError(f"{run.last}: cannot read the resume state: {e}") from None


def load_model(run: RunDir) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuilds the model from config.json and loads checkpoint.safetensors."""
    run.require(run.config, run.checkpoint)
    config = read_json(run.config)
    model = build_from_config(config)
    try:
        state = load_file(str(run.checkpoint))
        model.load_state_dict(state, strict=True)
    except Exception as e:
        raise RunError(f"{run.checkpoint}: does not match {run.config}: {e}") from None
    return model.eval(), config


def build_manifest(
    *,
    run: RunDir,
    model_id: str,
    version: str,
    architecture: str,
    labels: list[str],
    opset: int,
    input_spec: dict,
    sampling: dict,
    passes: list[dict],
    dataset: dict | None,
    metrics: dict[str, float],
    parent: dict | None = None,
) -> dict:
    """`parent`: the checkpoint fine-tuning started from ({id, version, sha256}), else None."""
    return {
        "schemaVersion": MANIFEST_SCHEMA_VERSION,
        "id": model_id,
        "version": version,
        "architecture": architecture,
        "labels": labels,
        "model": {
            "file": run.onnx.name,
            "sha256": sha256_file(run.onnx),
            "bytes": run.onnx.stat().st_size,
            "opset": opset,
        },
        "input": input_spec,
        "output": {"name": "logits", "kind": "logits"},
        "sampling": sampling,
        "provenance": {
            "parent": parent,
            "passes": passes,
            "dataset": dataset,
            "createdBy": f"videotrain {videotrain_version()}",
            "createdAt": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "metrics": metrics,
    }


def write_manifest(run: RunDir, manifest: dict) -> None:
    validate_manifest(manifest, str(run.manifest))
    write_json(run.manifest, manifest)


def read_manifest(run: RunDir) -> dict:
    """The run's manifest, validated, with its ONNX file present and matching."""
    run.require(run.manifest)
    manifest = load_manifest(run.manifest)
    onnx_path = run.path / manifest["model"]["file"]
    if not onnx_path.is_file():
        raise RunError(f"{onnx_path}: missing (named by {run.manifest})")
    digest = sha256_file(onnx_path)
    if digest != manifest["model"]["sha256"]:
        raise RunError(f"{onnx_path}: sha256 {digest} does not match {run.manifest} ({manifest['model']['sha256']})")
    return manifest


def evaluate_onnx(
    run_path: str | os.PathLike,
    list_file: str | os.PathLike,
    *,
    root: str | os.PathLike | None = None,
    out: str | os.PathLike | None = None,
    batch_size: int = 8,
    workers: int = 0,
    progress: bool = True,
    frame_selector: str | None = None,
    clips_per_video: int | None = None,
) -> dict:
    """Runs the run's ONNX model (onnxruntime, CPU) on every video of a
    `path label` list, with the manifest's sampling plan and eval transform:
    the reference the Worker's answers are compared with.

    `frame_selector` overrides the plan's ("keyframe": the frames the Worker's
    MP4 path decodes, the keyframe nearest each target time); `clips_per_video`
    makes it N evenly spaced clips, like the Worker's `clips` option.

    Per video: the logits of each clip, each clip's window, frame times and
    softmax, and the mean of the clips' softmax (the same aggregation as
    validation). Writes JSON to `out` (default <run>/eval-<list name>.json)
    and returns it.
    """
    import numpy as np
    import onnxruntime as ort
    from torch.utils.data import DataLoader
    from tqdm import tqdm

    from .data.dataset import ClipDataset
    from .data.labeled import load_labeled_list
    from .transforms import eval_transform

    run = RunDir(run_path)
    manifest = read_manifest(run)
    labels = manifest["labels"]
    items = load_labeled_list(list_file, root)
    if not items:
        raise RunError(f"{list_file}: no videos listed")
    for path, label in items:
        if label >= len(labels):
            raise RunError(f"{list_file}: label {label} (for {path}) is out of range for the {len(labels)} labels of {run.manifest}")
    plan = dict(manifest["sampling"])
    if frame_selector is not None:
        if frame_selector not in ("uniform", "keyframe"):
            raise RunError(f"unknown frame selector {frame_selector!r}; expected uniform or keyframe")
        plan["frameSelector"] = frame_selector
    if clips_per_video is not None:
        if not 1 <= clips_per_video <= 64:
            raise RunError(f"clips per video must be from 1 to 64, got {clips_per_video}")
        plan["clipSampler"] = {"kind": "constant_clips_per_video", "clipsPerVideo": clips_per_video}
    ds = ClipDataset(items, plan, eval_transform(manifest["input"]), mode="eval")
    clip_windows = {(vi, clip.index): clip for vi, clip in ds.clips}
    session = ort.InferenceSession(str(run.path / manifest["model"]["file"]), providers=["CPUExecutionProvider"])
    in_name, out_name = manifest["input"]["name"], manifest["output"]["name"]

    clip_logits: dict[int, dict[int, list[float]]] = {}
    loader = DataLoader(ds, batch_size=batch_size, shuffle=False, num_workers=workers)
    for batch in tqdm(loader, desc="evaluate", unit="batch", disable=not progress, leave=False, dynamic_ncols=True):
        (logits,) = session.run([out_name], {in_name: batch["video"].numpy()})
        for vi, ci, row in zip(batch["video_index"].tolist(), batch["clip_index"].tolist(), logits):
            clip_logits.setdefault(vi, {})[ci] = row.astype(np.float64).tolist()

    videos, correct = [], 0
    for vi, (path, label, _info) in enumerate(ds.videos):
        rows = np.array([clip_logits[vi][c] for c in sorted(clip_logits[vi])])
        if manifest["output"]["kind"] == "logits":
            e = np.exp(rows - rows.max(axis=1, keepdims=True))
            clip_probs = e / e.sum(axis=1, keepdims=True)
        else:
            clip_probs = rows
        probs = clip_probs.mean(axis=0)
        order = np.argsort(-probs, kind="stable")[: min(5, len(labels))]
        pred = int(order[0])
        correct += pred == label
        videos.append(
            {
                "path": path,
                "label": label,
                "labelName": labels[label],
                "pred": pred,
                "predName": labels[pred],
                "top5": [{"index": int(i), "label": labels[i], "prob": float(probs[i])} for i in order],
                "clipLogits": rows.tolist(),
                "clips": [
                    {
                        "index": c,
                        "start": clip_windows[vi, c].start,
                        "end": clip_windows[vi, c].end,
                        "times": [f.time for f in clip_windows[vi, c].frames],
                        "probs": clip_probs[j].tolist(),
                    }
                    for j, c in enumerate(sorted(clip_logits[vi]))
                ],
            }
        )
    result = {
        "run": str(run.path),
        "model": {"file": manifest["model"]["file"], "sha256": manifest["model"]["sha256"]},
        "list": str(list_file),
        "aggregation": "mean of per-clip softmax" if manifest["output"]["kind"] == "logits" else "mean of per-clip probabilities",
        "sampling": plan,
        "top1": correct / len(videos),
        "videos": videos,
        "skipped": [{"path": p, "reason": r} for p, r in ds.skipped],
    }
    out_path = Path(out) if out is not None else run.path / f"eval-{Path(list_file).stem}.json"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    write_json(out_path, result)
    result["out"] = str(out_path)
    return result
