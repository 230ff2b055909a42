"""What finetune and distill leave in their output directory.

    model.onnx              the trained model, checked against onnxruntime
    manifest.json           provenance.parent = the model it came from, passes + "finetune" / "distill"
    metrics.json            per-epoch history, best epoch, teacher's validation numbers, export check
    labels.txt, curves.png
    engine-config.json      the config as given
    checkpoint.safetensors + config.json   when the model is a zoo PyTorch model (a run dir's or a student):
                            the output is then also a run directory that finetune accepts
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from ..export import PARITY_TOLERANCE, ExportError, export_onnx
from ..plots import plot_curves
from ..runs import RunDir, RunError, build_manifest, save_weights, write_json, write_labels, write_manifest
from .loop import FitResult, Job
from .onnx_import import OnnxModule, onnxruntime_max_diff, write_onnx

ONNX_NAME = "model.onnx"


def output_dir(path: Path) -> RunDir:
    run = RunDir(path)
    run.onnx = run.path / ONNX_NAME  # a derived model, not a teacher
    if run.manifest.exists():
        raise RunError(f"{run.path}: already holds a result (manifest.json); choose another out")
    run.create()
    return run


def _export_graph(module: OnnxModule, graph, spec: dict, path: Path, seed: int) -> dict[str, Any]:
    """Trained weights back into the source graph; checked at batch 1 and 2 (the batch axis stays dynamic)."""
    write_onnx(module, graph, path)
    gen = torch.Generator().manual_seed(seed)
    shape = (3, int(spec["frames"]), int(spec["cropSize"]), int(spec["cropSize"]))
    diff = onnxruntime_max_diff(module, path, [torch.randn((b, *shape), generator=gen) for b in (1, 2)])
    if not diff <= PARITY_TOLERANCE:
        raise ExportError(f"{path}: onnxruntime differs from the trained module by {diff:.3g} (> {PARITY_TOLERANCE:g})")
    return {"exporter": "weights written into the source graph", "maxAbsDiff": diff, "bytes": path.stat().st_size}


def write_outputs(job: Job, run: RunDir, result: FitResult, *, graph, torch_config: dict | None, parent: dict,
                  parent_passes: list[dict], pass_record: dict, architecture: str, default_id: str) -> dict:
    """Exports the (best) model, writes every file; returns the "result" event's fields."""
    c = job.cfg
    module = job.module.to("cpu").eval()
    if isinstance(module, OnnxModule):
        export = _export_graph(module, graph, job.spec, run.onnx, c.train.seed)
    else:
        export = export_onnx(module, job.spec, run.onnx, exporter=c.exporter, opset=c.opset, seed=c.train.seed)
        export = {k: v for k, v in export.items() if k != "ops"}
        save_weights(module, run.checkpoint, {"arch": torch_config["arch"], "preset": torch_config["preset"],
                                               "epoch": str(result.best["epoch"])})
        write_json(run.config, torch_config)
    job.progress.say(f"wrote {run.onnx}: max abs diff vs PyTorch {export['maxAbsDiff']:.2e}")
    opset = export.get("opset") or next(o.version for o in graph.opset_import if o.domain in ("", "ai.onnx"))
    metrics = {"val.top1": result.best["top1"], "val.top5": result.best["top5"], "val.loss": result.best["loss"],
               "export.maxAbsDiff": export["maxAbsDiff"]}
    if result.teacher_val is not None:
        metrics.update({"teacher.val.top1": result.teacher_val["val.top1"], "teacher.val.top5": result.teacher_val["val.top5"]})
    manifest = build_manifest(
        run=run, model_id=c.id or default_id, version=c.version or time.strftime("%Y%m%dT%H%M%S", time.gmtime()),
        architecture=architecture, labels=job.labels, opset=opset, input_spec=job.spec, sampling=job.plan,
        passes=[*parent_passes, pass_record], dataset=result.dataset, metrics=metrics,
    )
    manifest["provenance"]["parent"] = parent
    write_manifest(run, manifest)
    write_labels(run, job.labels)
    write_json(run.path / "engine-config.json", c.raw)
    write_json(run.metrics, {"history": result.history, "best": result.best, "teacher": result.teacher_val,
                             "export": export, "skipped": result.skipped, "device": result.device, "amp": result.amp,
                             "wallSeconds": result.seconds})
    plot_curves(result.history, run.curves, title=f"{c.command}: {architecture}")
    return {
        "outputs": {"dir": str(run.path), "onnx": str(run.onnx), "manifest": str(run.manifest), "metrics": str(run.metrics),
                    **({"checkpoint": str(run.checkpoint)} if torch_config is not None else {})},
        "metrics": metrics,
        "bestEpoch": result.best["epoch"],
        "sha256": manifest["model"]["sha256"],
    }


__all__ = ["ONNX_NAME", "output_dir", "write_outputs"]
