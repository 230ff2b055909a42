"""The teacher: an ONNX model run with onnxruntime, and how a student's input comes from the teacher's clip.

Each training clip is decoded and augmented once, at the teacher's input spec
(frames, crop, normalization); the student's input is derived from that
tensor (`derive_input`): the student's frames picked from the teacher's with
UniformTemporalSubsample's indices, each frame resized bilinearly to the
student's crop (the resize the serving pipeline uses), renormalized if the
means/stds differ. Teacher and student thus see the same moment and the same
augmentation. Validation does not derive: the student is scored on clips
sampled with its own plan, as the Worker will feed it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from ..manifest import ManifestError, load_manifest, sha256_file
from ..runs import RunDir, RunError, read_manifest
from ..sampling import uniform_indices
from .config import ConfigError, ModelSource


@dataclass
class OnnxTeacher:
    path: Path
    manifest: dict[str, Any]
    sha256: str
    threads: int = 1

    def __post_init__(self) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.output_name = self.manifest["output"]["name"]
        self.spec = self.manifest["input"]
        self.plan = self.manifest["sampling"]
        self.labels = self.manifest["labels"]

    @property
    def parent(self) -> dict[str, str]:
        return {"id": self.manifest["id"], "version": self.manifest["version"], "sha256": self.sha256}

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(N, K) float32 logits for a batch at the teacher's spec (log-probabilities for a probability output)."""
        (out,) = self.session.run([self.output_name], {self.input_name: x.detach().cpu().float().numpy()})
        out = torch.from_numpy(np.asarray(out, dtype=np.float32))
        if self.manifest["output"]["kind"] == "probabilities":
            # softmax(log p / T) = p^(1/T) normalized: the same softened targets.
            return out.clamp_min(1e-12).log()
        return out


def load_teacher(source: ModelSource, config_path: Path, threads: int) -> OnnxTeacher:
    try:
        if source.run is not None:
            run = RunDir(source.run)
            manifest = read_manifest(run)
            return OnnxTeacher(run.path / manifest["model"]["file"], manifest, manifest["model"]["sha256"], threads)
        assert source.onnx is not None and source.manifest is not None
        if not source.onnx.is_file():
            raise RunError(f"{source.onnx}: file not found")
        manifest = load_manifest(source.manifest)
        return OnnxTeacher(source.onnx, manifest, sha256_file(source.onnx), threads)
    except (RunError, ManifestError) as e:
        raise ConfigError(f"{config_path}: teacher: {e}") from None
    except Exception as e:  # onnxruntime refusing the file
        raise ConfigError(f"{config_path}: teacher: onnxruntime cannot load {source.onnx or source.run}: {e}") from None


def derive_input(x: torch.Tensor, src: dict, dst: dict) -> torch.Tensor:
    """A batch (N, C, T, H, W) at input spec `src` -> the same clips at spec `dst` (identity when they agree)."""
    if dst["frames"] != src["frames"]:
        idx = torch.tensor(uniform_indices(x.shape[2], int(dst["frames"])), device=x.device)
        x = x.index_select(2, idx)
    if dst["cropSize"] != src["cropSize"]:
        n, c, t, h, w = x.shape
        size = int(dst["cropSize"])
        x = F.interpolate(x.reshape(n, c * t, h, w), size=(size, size), mode="bilinear", align_corners=False,
                          antialias=False).reshape(n, c, t, size, size)
    if list(dst["mean"]) != list(src["mean"]) or list(dst["std"]) != list(src["std"]):
        view = (1, -1, 1, 1, 1)
        pixels = x * torch.tensor(src["std"], device=x.device).view(view) + torch.tensor(src["mean"], device=x.device).view(view)
        x = (pixels - torch.tensor(dst["mean"], device=x.device).view(view)) / torch.tensor(dst["std"], device=x.device).view(view)
    return x


__all__ = ["OnnxTeacher", "derive_input", "load_teacher"]
