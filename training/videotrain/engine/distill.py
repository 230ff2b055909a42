"""`videotrain distill`: train a zoo student (e.g. an X3D-S-family model with its own width, depth,
frames and crop) against an ONNX teacher on the user's data.

The student's input spec follows the teacher's clip (teacher.py): its frames
and crop are its own; its short side keeps the teacher's field of view
(teacher short side x student crop / teacher crop); mean, std and the
sampling plan's clip duration, clips per video and frame selector are the
teacher's, since its training input is derived from the teacher's clip.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..models import UnknownModelError, build_from_config, get_preset, model_kwargs
from ..models.profile import count_macs, count_params
from .config import X3D_OVERRIDES, ConfigError, EngineConfig
from .finetune import derived_id
from .loop import Job, fit
from .outputs import output_dir, write_outputs
from .progress import PROTOCOL_VERSION, Progress
from .teacher import OnnxTeacher, load_teacher


def student_spec(student: dict[str, Any], teacher: OnnxTeacher, config_path: Path) -> tuple[dict, dict, dict]:
    """(builder kwargs, input spec, sampling plan) of the student."""
    t = teacher.spec
    try:
        base = get_preset(student["arch"], student["preset"])
        crop = student.get("crop", base.crop_size)
        shape = {"frames": student.get("frames", base.frames), "crop_size": crop,
                 "short_side_size": max(crop, round(t["shortSideSize"] * crop / t["cropSize"]))}
        kwargs = model_kwargs(student["arch"], student["preset"], len(teacher.labels), **shape)
    except UnknownModelError as e:
        raise ConfigError(f"{config_path}: student: {e}") from None
    kwargs.update({key: student[key] for key in X3D_OVERRIDES if key in student})
    spec = {**t, "frames": shape["frames"], "cropSize": crop, "shortSideSize": shape["short_side_size"]}
    plan = {**teacher.plan, "frames": shape["frames"]}
    return kwargs, spec, plan


def _architecture(student: dict[str, Any]) -> str:
    overrides = ",".join(f"{k}={student[k]}" for k in (*X3D_OVERRIDES, "frames", "crop") if k in student)
    return f"{student['arch']}-{student['preset']}" + (f"({overrides})" if overrides else "")


def distill(cfg: EngineConfig, progress: Progress) -> dict:
    assert cfg.teacher is not None and cfg.student is not None  # parse_config requires both for distill
    teacher = load_teacher(cfg.teacher, cfg.source, cfg.train.threads or 1)
    kwargs, spec, plan = student_spec(cfg.student, teacher, cfg.source)
    config = {"arch": cfg.student["arch"], "preset": cfg.student["preset"], "modelKwargs": kwargs}
    module = build_from_config(config)
    params = count_params(module)
    macs = count_macs(module, (3, spec["frames"], spec["cropSize"], spec["cropSize"]))
    run = output_dir(cfg.out)
    architecture = _architecture(cfg.student)
    progress.event("start", protocol=PROTOCOL_VERSION, command="distill", config=str(cfg.source), out=str(run.path),
                   epochs=cfg.train.epochs, student={"architecture": architecture, "params": params, "macs": macs,
                                                     "frames": spec["frames"], "cropSize": spec["cropSize"]},
                   teacher={"source": str(teacher.path), "sha256": teacher.sha256})
    progress.say(f"distill {teacher.path} -> {architecture} ({params / 1e6:.3f}M params, {macs / 1e9:.4f} GMACs "
                 f"at {spec['frames']}x{spec['cropSize']}x{spec['cropSize']}) -> {run.path}")
    job = Job(cfg, module, spec, plan, teacher.labels, teacher, progress)
    result = fit(job)
    t = cfg.train
    config = {**config, "numClasses": len(teacher.labels), "labels": teacher.labels, "input": spec, "sampling": plan,
              "params": params, "macs": macs}
    record = {
        "name": "distill",
        "params": {"teacher": teacher.parent, "student": cfg.student, "alpha": cfg.alpha, "temperature": cfg.temperature,
                   "epochs": t.epochs, "batchSize": t.batch_size, "lr": t.lr, "weightDecay": t.weight_decay,
                   "warmupEpochs": t.warmup_epochs, "gradClip": t.grad_clip, "labelSmoothing": t.label_smoothing,
                   "seed": t.seed, "device": result.device, "amp": result.amp, "bestEpoch": result.best["epoch"],
                   "params": params, "macs": macs},
        "summary": f"student val top-1 {100 * result.best['top1']:.1f}% vs teacher {100 * result.teacher_val['val.top1']:.1f}% "
                   f"at {macs / 1e9:.4f} GMACs",
    }
    return write_outputs(job, run, result, graph=None, torch_config=config, parent=teacher.parent, parent_passes=[],
                         pass_record=record, architecture=architecture, default_id=derived_id(teacher.manifest["id"], "student"))


__all__ = ["distill", "student_spec"]
