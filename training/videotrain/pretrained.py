"""Fine-tuning from a checkpoint: `videotrain train --pretrained FILE`.

FILE is PyTorchVideo's released format ({"model_state": state_dict} in a
.pyth), a bare state dict (.pt/.pth, also under "state_dict" or "model"), a
.safetensors file, or one of our run directories (its checkpoint.safetensors).
Nothing is downloaded: the user passes the file.

The model loads it strictly except for the classification head (the last
nn.Linear: X3D's blocks.5.proj, the ResNets' blocks[-1].proj, MViT's head.1). When the
checkpoint's head has another class count, the new head keeps its fresh
initialization and the log says so. Any other missing, unexpected or
differently shaped key is an error naming the first of them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .manifest import sha256_file
from .runs import RunDir, read_json


class PretrainedError(ValueError):
    """A checkpoint that cannot start this model; the message names the file and the first mismatches."""


@dataclass
class Checkpoint:
    path: Path
    format: str
    sha256: str
    state: dict[str, torch.Tensor]
    # The manifest's provenance.parent: a run's id and version, or the file's name.
    id: str
    version: str


def _unwrap(obj: object, path: Path) -> dict[str, torch.Tensor]:
    """The state dict inside a torch.save'd object: PyTorchVideo's model_state, a trainer's state_dict/model, or bare."""
    if isinstance(obj, dict):
        for key in ("model_state", "state_dict", "model"):
            if isinstance(obj.get(key), dict):
                return _unwrap(obj[key], path)
        if obj and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
            return obj
    raise PretrainedError(f"{path}: not a state dict (expected tensors by name, or one under model_state, state_dict or model)")


def read_checkpoint(path: str | os.PathLike) -> Checkpoint:
    p = Path(path)
    if p.is_dir():
        run = RunDir(p)
        if not run.checkpoint.exists():
            raise PretrainedError(f"{p}: a directory without checkpoint.safetensors (not a finished videotrain run)")
        manifest = read_json(run.manifest) if run.manifest.exists() else {}
        ckpt = read_checkpoint(run.checkpoint)
        ckpt.format = "run"
        ckpt.id = manifest.get("id", ckpt.id)
        ckpt.version = manifest.get("version", ckpt.version)
        return ckpt
    if not p.is_file():
        raise PretrainedError(f"{p}: no such file or directory")
    try:
        if p.suffix == ".safetensors":
            from safetensors.torch import load_file

            state, fmt = load_file(str(p)), "safetensors"
        else:
            # weights_only: a checkpoint from elsewhere runs no code when read.
            state, fmt = _unwrap(torch.load(p, map_location="cpu", weights_only=True), p), "pyth" if p.suffix == ".pyth" else "torch"
    except PretrainedError:
        raise
    except Exception as e:
        raise PretrainedError(f"{p}: cannot read it as a checkpoint ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
    # DistributedDataParallel's saves prefix every key.
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", p.stem).strip("-") or "checkpoint"
    return Checkpoint(path=p, format=fmt, sha256=sha256_file(p), state=state, id=stem, version="checkpoint")


def head_prefix(model: nn.Module) -> str:
    """The classification head: the model's last nn.Linear."""
    linears = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise PretrainedError(f"{type(model).__name__} has no nn.Linear head to replace")
    return linears[-1]


def head_keys(model: nn.Module, prefix: str | None = None) -> set[str]:
    prefix = prefix or head_prefix(model)
    return {k for k in model.state_dict() if k.startswith(prefix + ".")}


def _first(keys: list[str], what: str) -> str:
    more = f" (and {len(keys) - 3} more)" if len(keys) > 3 else ""
    return f"{what} {', '.join(keys[:3])}{more}"


def load_pretrained(model: nn.Module, ckpt: Checkpoint, what: str) -> dict:
    """Loads `ckpt` into `model` (in place); returns the record for the manifest. `what` names the model in errors."""
    own = model.state_dict()
    prefix = head_prefix(model)
    head = head_keys(model, prefix)
    state = ckpt.state
    missing = [k for k in own if k not in state and k not in head]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k} {list(state[k].shape)} vs {list(own[k].shape)}" for k in own if k in state and k not in head and state[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        problems = [_first(missing, "missing") if missing else "", _first(unexpected, "unexpected") if unexpected else "",
                    _first(shapes, "shape (checkpoint vs model)") if shapes else ""]
        raise PretrainedError(f"{ckpt.path}: does not fit {what}: {'; '.join(p for p in problems if p)}")
    keep_head = all(k in state and state[k].shape == own[k].shape for k in head)
    weights = {k: v for k, v in state.items() if keep_head or k not in head}
    model.load_state_dict(weights, strict=keep_head)
    classes = own[f"{prefix}.weight"].shape[0]
    old = state.get(f"{prefix}.weight")
    head_note = "kept" if keep_head else f"replaced: {old.shape[0] if old is not None else '?'} -> {classes} classes"
    return {"file": str(ckpt.path), "format": ckpt.format, "sha256": ckpt.sha256, "head": f"{prefix} {head_note}"}


def _keep_eval(module: nn.Module, args: tuple) -> None:
    """A forward pre-hook: the norm stays in eval mode whatever train() says, so a linear probe's backbone statistics stay as trained."""
    module.eval()


def freeze_backbone(model: nn.Module) -> int:
    """Only the head trains: every other parameter is frozen, and the backbone's BatchNorms keep their statistics. Returns the parameters left trainable."""
    head = head_prefix(model)
    for name, p in model.named_parameters():
        p.requires_grad = name.startswith(head + ".")
    for name, m in model.named_modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and not name.startswith(head + "."):
            m.register_forward_pre_hook(_keep_eval)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
