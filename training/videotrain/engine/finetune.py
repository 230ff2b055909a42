"""`videotrain finetune`: continue training a model (a compiler's pruned ONNX graph, or a run's
checkpoint) on the user's data, optionally distilling from an unpruned teacher."""

from __future__ import annotations

from ..models.profile import count_params
from .config import EngineConfig
from .loop import Job, fit
from .outputs import output_dir, write_outputs
from .progress import PROTOCOL_VERSION, Progress
from .sources import is_graph, load_source
from .teacher import load_teacher


def derived_id(parent_id: str, suffix: str) -> str:
    """A manifest id for a model derived from `parent_id` (ids are at most 64 characters)."""
    return f"{parent_id[: 63 - len(suffix)]}-{suffix}"


def finetune(cfg: EngineConfig, progress: Progress) -> dict:
    assert cfg.model is not None  # parse_config requires it for finetune
    model = load_source(cfg.model, "model", cfg.source)
    teacher = load_teacher(cfg.teacher, cfg.source, cfg.train.threads or 1) if cfg.teacher is not None else None
    run = output_dir(cfg.out)
    m = model.manifest
    params = count_params(model.module)
    progress.event("start", protocol=PROTOCOL_VERSION, command="finetune", config=str(cfg.source), out=str(run.path),
                   epochs=cfg.train.epochs, model={"source": str(model.onnx_path), "kind": "onnx" if is_graph(model) else "run",
                                                   "params": params, "sha256": model.sha256},
                   teacher={"source": str(teacher.path), "sha256": teacher.sha256} if teacher is not None else None)
    progress.say(f"finetune {model.onnx_path} ({params / 1e6:.3f}M params)"
                 f"{f' with teacher {teacher.path}' if teacher is not None else ''} -> {run.path}")
    job = Job(cfg, model.module, m["input"], m["sampling"], m["labels"], teacher, progress)
    result = fit(job)
    t = cfg.train
    versus = f" (teacher {100 * result.teacher_val['val.top1']:.1f}%)" if result.teacher_val else ""
    record = {
        "name": "finetune",
        "params": {"epochs": t.epochs, "batchSize": t.batch_size, "lr": t.lr, "weightDecay": t.weight_decay,
                   "warmupEpochs": t.warmup_epochs, "gradClip": t.grad_clip, "labelSmoothing": t.label_smoothing,
                   "seed": t.seed, "device": result.device, "amp": result.amp, "bestEpoch": result.best["epoch"],
                   "params": params, "source": "onnx" if is_graph(model) else "run",
                   **({"teacher": teacher.parent, "alpha": cfg.alpha, "temperature": cfg.temperature} if teacher else {})},
        "summary": f"val top-1 {100 * result.best['top1']:.1f}% after {t.epochs} epochs{versus}",
    }
    return write_outputs(job, run, result, graph=model.graph, torch_config=model.config, parent=model.parent,
                         parent_passes=m["provenance"]["passes"], pass_record=record, architecture=m["architecture"],
                         default_id=derived_id(m["id"], "ft"))


__all__ = ["derived_id", "finetune"]
