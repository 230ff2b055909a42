"""The engine's JSON config: validated against config.schema.json at the boundary.

Errors name the config file and the field (`cfg.json: train.epochs: 0 is less
than the minimum of 1`). Relative paths resolve against the config file's
directory, so the compiler can write a config beside its work files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema

from ..jsonfile import read_json

SCHEMA_PATH = Path(__file__).with_name("config.schema.json")

# Student overrides of X3D's shape; frames and crop apply to every arch (the registry resizes the heads).
X3D_OVERRIDES = ("width_factor", "depth_factor", "head_dim_out", "dropout_rate")

# Defaults per command where the two differ: fine-tuning starts from trained
# weights (low rate, no warmup); distillation trains a student from scratch.
TRAIN_DEFAULTS = {
    "finetune": {"epochs": 5, "batchSize": 8, "lr": 5e-4, "warmupEpochs": 0.0},
    "distill": {"epochs": 30, "batchSize": 16, "lr": 1e-3, "warmupEpochs": 1.0},
}


class ConfigError(ValueError):
    """A config the engine cannot run: names the file and the field."""


@dataclass(frozen=True)
class ModelSource:
    """A run directory, or an ONNX file plus its manifest."""

    run: Path | None = None
    onnx: Path | None = None
    manifest: Path | None = None


@dataclass(frozen=True)
class TrainConfig:
    epochs: int
    batch_size: int
    lr: float
    warmup_epochs: float
    weight_decay: float = 0.05
    grad_clip: float = 1.0
    label_smoothing: float = 0.0
    seed: int = 0
    workers: int = 0
    threads: int | None = None
    device: str = "auto"
    amp: str = "auto"


@dataclass(frozen=True)
class EngineConfig:
    command: str
    source: Path  # the config file
    out: Path
    data: dict[str, Path | None]  # dir, trainList, valList, labels, root
    train: TrainConfig
    model: ModelSource | None = None
    teacher: ModelSource | None = None
    student: dict[str, Any] | None = None
    alpha: float = 0.5
    temperature: float = 4.0
    opset: int = 17
    exporter: str = "torchscript"
    id: str | None = None
    version: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@lru_cache(maxsize=1)
def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


def _field(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(root)"


def _message(error: jsonschema.ValidationError) -> str:
    if error.validator == "oneOf" and _field(error) in ("model", "teacher"):
        return 'give either {"run": DIR} or {"onnx": FILE, "manifest": FILE}'
    if error.validator == "anyOf" and _field(error) == "data":
        return 'give {"dir": DIR} or all of trainList, valList and labels'
    return error.message


def _path(base: Path, value: str | None) -> Path | None:
    return None if value is None else (base / value).resolve()


def _source(base: Path, obj: dict | None) -> ModelSource | None:
    if obj is None:
        return None
    return ModelSource(run=_path(base, obj.get("run")), onnx=_path(base, obj.get("onnx")), manifest=_path(base, obj.get("manifest")))


def parse_config(obj: Any, command: str, source: Path) -> EngineConfig:
    """Validates a parsed config for `command` ("finetune" or "distill")."""
    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        raise ConfigError(f"{source}: " + "; ".join(f"{_field(e)}: {_message(e)}" for e in errors))
    problems = []
    if command == "finetune":
        if "model" not in obj:
            problems.append("model: required for finetune (the model to continue training)")
        if "student" in obj:
            problems.append("student: only for distill (finetune trains the given model)")
    else:
        for key, why in (("teacher", "the model to distill from"), ("student", "the model to train")):
            if key not in obj:
                problems.append(f"{key}: required for distill ({why})")
        if "model" in obj:
            problems.append("model: only for finetune (distill builds a student)")
    student = obj.get("student")
    if student is not None and student["arch"] != "x3d":
        extra = sorted(set(student) & set(X3D_OVERRIDES))
        if extra:
            problems.append(f"student.{extra[0]}: overrides are supported for arch x3d only (got arch {student['arch']!r})")
    if "distillation" in obj and "teacher" not in obj:
        problems.append("distillation: needs a teacher")
    if problems:
        raise ConfigError(f"{source}: " + "; ".join(problems))

    base = source.resolve().parent
    t = {**TRAIN_DEFAULTS[command], **obj.get("train", {})}
    train = TrainConfig(
        epochs=t["epochs"], batch_size=t["batchSize"], lr=t["lr"], warmup_epochs=t["warmupEpochs"],
        weight_decay=t.get("weightDecay", 0.05), grad_clip=t.get("gradClip", 1.0), label_smoothing=t.get("labelSmoothing", 0.0),
        seed=t.get("seed", 0), workers=t.get("workers", 0), threads=t.get("threads"), device=t.get("device", "auto"),
        amp=t.get("amp", "auto"),
    )
    d = obj["data"]
    distillation = obj.get("distillation", {})
    export = obj.get("export", {})
    return EngineConfig(
        command=command,
        source=source,
        out=_path(base, obj["out"]),
        data={k: _path(base, d.get(k)) for k in ("dir", "trainList", "valList", "labels", "root")},
        train=train,
        model=_source(base, obj.get("model")),
        teacher=_source(base, obj.get("teacher")),
        student=student,
        alpha=distillation.get("alpha", 0.5),
        temperature=distillation.get("temperature", 4.0),
        opset=export.get("opset", 17),
        exporter=export.get("exporter", "torchscript"),
        id=obj.get("id"),
        version=obj.get("version"),
        raw=obj,
    )


def load_config(path: str | Path, command: str) -> EngineConfig:
    path = Path(path)
    return parse_config(read_json(path, ConfigError, "config file"), command, path)


__all__ = ["ConfigError", "EngineConfig", "ModelSource", "TrainConfig", "X3D_OVERRIDES", "load_config", "parse_config", "schema"]
