"""Prints what the engine does on the synthetic set (CPU), with the bundled default
model (models/default, X3D-tiny, 92.5% val top-1 on its own held-out clips) as the
teacher: `videotrain distill` into a smaller X3D student at fewer frames and a
smaller crop, and `videotrain finetune` of the teacher's ONNX graph (imported into
PyTorch, weights written back); val top-1, parameters, multiply-adds, wall time,
and a train step of the imported graph vs the same model in PyTorch.

    .venv/bin/python training/bench/engine_distill.py [--out /tmp/engine-bench] [--epochs 12] [--threads 2]

The data set uses another seed than the default model's, so its clips are new to the teacher.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from videotrain.cli import main as videotrain
from videotrain.data.synthetic import generate_dataset
from videotrain.engine.onnx_import import load_onnx_module
from videotrain.models import build_model


def _engine(command: str, out: Path, config: dict) -> dict:
    path = out / f"{command}.json"
    path.write_text(json.dumps(config, indent=2))
    events = out / f"{command}.events.jsonl"
    started = time.perf_counter()
    rc = videotrain([command, "--config", str(path), "--events", str(events), "--quiet"])
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    if rc != 0:
        raise SystemExit(f"{command} failed: {lines[-1]}")
    return {"start": lines[0], "result": lines[-1], "seconds": time.perf_counter() - started}


def _step_ms(model: torch.nn.Module, x: torch.Tensor, steps: int = 5) -> float:
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    y = torch.zeros(x.shape[0], dtype=torch.long)
    for i in range(steps + 1):
        if i == 1:
            t0 = time.perf_counter()
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return 1000 * (time.perf_counter() - t0) / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="/tmp/engine-bench")
    ap.add_argument("--train-per-class", type=int, default=10)
    ap.add_argument("--val-per-class", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)
    data = out / "data"
    if not (data / "train.txt").is_file():
        generate_dataset(data, clips_per_class_train=args.train_per_class, clips_per_class_val=args.val_per_class, seed=7,
                         workers=2, progress=False)
    models = Path(__file__).resolve().parents[2] / "models" / "default"
    teacher_source = {"onnx": str(models / "model.onnx"), "manifest": str(models / "manifest.json")}
    tm = json.loads((models / "manifest.json").read_text())
    tp = tm["provenance"]["passes"][0]["params"]
    train = {"epochs": args.epochs, "batchSize": 8, "threads": args.threads, "workers": 0}
    for name in ("student", "finetuned"):
        if (out / name / "manifest.json").exists():
            raise SystemExit(f"{out / name} exists: remove it or choose another --out")
    student = _engine("distill", out, {
        "out": "student", "data": {"dir": str(data)}, "teacher": teacher_source,
        "student": {"arch": "x3d", "preset": "tiny", "width_factor": 0.25, "depth_factor": 0.5, "frames": 6, "crop": 48},
        "distillation": {"alpha": 0.7, "temperature": 4}, "train": {**train, "lr": 2e-3}})
    finetuned = _engine("finetune", out, {
        "out": "finetuned", "data": {"dir": str(data)}, "model": teacher_source, "teacher": teacher_source,
        "train": {**train, "epochs": 2, "lr": 2e-4}})

    sm, fm = student["result"]["metrics"], finetuned["result"]["metrics"]
    s = student["start"]["student"]
    teacher_val = sm["teacher.val.top1"]
    print(f"{'model':<40}{'val top-1':>10}{'params':>10}{'MACs':>12}{'seconds':>9}")
    print(f"{'teacher: models/default (x3d-tiny 8x64)':<40}{100 * teacher_val:>9.1f}%{tp['params']:>10}{tp['macs']:>12}{'':>9}")
    print(f"{'student x3d ' + str(s['frames']) + 'x' + str(s['cropSize']) + ' (below)':<40}{100 * sm['val.top1']:>9.1f}%{s['params']:>10}{s['macs']:>12}"
          f"{student['seconds']:>9.0f}")
    print(f"{'teacher graph finetuned (2 epochs)':<40}{100 * fm['val.top1']:>9.1f}%{'':>10}{'':>12}{finetuned['seconds']:>9.0f}")
    print(f"student: {s['architecture']}")
    print(f"student keeps {100 * sm['val.top1'] / max(teacher_val, 1e-9):.0f}% of the teacher's top-1 "
          f"at {100 * s['macs'] / tp['macs']:.1f}% of its multiply-adds, {100 * s['params'] / tp['params']:.0f}% of its parameters")

    graph, _ = load_onnx_module(models / "model.onnx")
    model = build_model("x3d", "tiny", len(tm["labels"]))
    x = torch.randn(8, 3, 8, 64, 64)
    print(f"train step, batch 8, {args.threads} threads: imported ONNX graph {_step_ms(graph, x):.0f} ms, "
          f"PyTorch model {_step_ms(model, x):.0f} ms")


if __name__ == "__main__":
    main()
