"""`videotrain finetune` and `videotrain distill` end to end on tiny models and real H.264 clips:
the JSON-lines protocol, the outputs (ONNX, manifest with parent and pass, metrics), bad configs."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from videotrain.cli import main
from videotrain.data.synthetic import generate_dataset
from videotrain.engine.config import ConfigError, load_config
from videotrain.engine.loop import distill_loss
from videotrain.engine.teacher import derive_input
from videotrain.manifest import load_manifest, sha256_file
from videotrain.runs import RunDir, load_model
from videotrain.train import TrainOptions, train

TRAIN = {"epochs": 2, "batchSize": 4, "threads": 1, "workers": 0, "lr": 2e-3}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synthetic")
    generate_dataset(out, clips_per_class_train=2, clips_per_class_val=1, seed=5, workers=2, progress=False)
    return out


@pytest.fixture(scope="module")
def teacher(dataset, tmp_path_factory) -> RunDir:
    out = tmp_path_factory.mktemp("runs") / "teacher"
    train(TrainOptions(out=str(out), data=str(dataset), preset="tiny", epochs=2, batch_size=4, workers=0, threads=1,
                       progress=False, tensorboard=False, id="tiny-teacher", version="1"))
    return RunDir(out)


def _run(command: str, tmp_path: Path, config: dict, name="cfg.json") -> tuple[int, list[dict]]:
    path = tmp_path / name
    path.write_text(json.dumps(config))
    events = tmp_path / f"{name}.events.jsonl"
    rc = main([command, "--config", str(path), "--events", str(events), "--quiet"])
    return rc, [json.loads(line) for line in events.read_text().splitlines()]


def _check_protocol(events: list[dict], command: str, epochs: int) -> dict:
    """start first, result last, one epoch event per epoch in order, steps in between."""
    assert events[0]["event"] == "start" and events[0]["protocol"] == 1 and events[0]["command"] == command
    assert events[-1]["event"] == "result" and events[-1]["ok"] is True
    epoch_events = [e for e in events if e["event"] == "epoch"]
    assert [(e["epoch"], e["of"]) for e in epoch_events] == [(i, epochs) for i in range(1, epochs + 1)]
    for e in epoch_events:
        assert set(e["val"]) == {"top1", "top5", "loss"} and 0 <= e["val"]["top1"] <= e["val"]["top5"] <= 1
        assert np.isfinite(e["loss"]) and e["seconds"] > 0
    assert {e["event"] for e in events} <= {"start", "teacher", "step", "epoch", "result"}
    return events[-1]


def _logits(path: Path, frames: int, crop: int, batch=2) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((batch, 3, frames, crop, crop)).astype(np.float32)
    return session.run(None, {"video": x})[0]


def test_finetune_an_onnx_graph_with_distillation_from_a_teacher(teacher, dataset, tmp_path):
    rc, events = _run("finetune", tmp_path, {
        "out": "ft", "data": {"dir": str(dataset)},
        "model": {"onnx": str(teacher.onnx), "manifest": str(teacher.manifest)},
        "teacher": {"run": str(teacher.path)}, "distillation": {"alpha": 0.7, "temperature": 2.0}, "train": TRAIN,
    })
    assert rc == 0
    result = _check_protocol(events, "finetune", 2)
    assert [e for e in events if e["event"] == "teacher"][0]["val"]["top1"] >= 0
    assert all("kl" in e["train"] for e in events if e["event"] == "epoch")

    out = Path(result["outputs"]["dir"])
    assert out == tmp_path / "ft"  # relative to the config file
    manifest = load_manifest(result["outputs"]["manifest"])
    parent = load_manifest(teacher.manifest)
    assert manifest["provenance"]["parent"] == {"id": "tiny-teacher", "version": "1", "sha256": sha256_file(teacher.onnx)}
    assert [p["name"] for p in manifest["provenance"]["passes"]] == ["train", "export-onnx", "finetune"]
    ft = manifest["provenance"]["passes"][-1]["params"]
    assert (ft["alpha"], ft["temperature"], ft["source"]) == (0.7, 2.0, "onnx")
    assert manifest["model"]["sha256"] == sha256_file(out / "model.onnx") == result["sha256"]
    assert manifest["input"] == parent["input"] and manifest["labels"] == parent["labels"]
    assert manifest["metrics"]["export.maxAbsDiff"] < 1e-4
    assert manifest["metrics"]["teacher.val.top1"] == [e for e in events if e["event"] == "teacher"][0]["val"]["top1"]

    # The same graph, node for node, with new weights.
    before, after = onnx.load(str(teacher.onnx)), onnx.load(str(out / "model.onnx"))
    assert [n.op_type for n in before.graph.node] == [n.op_type for n in after.graph.node]
    spec = parent["input"]
    moved = np.abs(_logits(out / "model.onnx", spec["frames"], spec["cropSize"]) - _logits(teacher.onnx, spec["frames"], spec["cropSize"]))
    assert moved.max() > 1e-4
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["history"]) == 2 and metrics["best"]["epoch"] == result["bestEpoch"]
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_finetune_a_run_directory_writes_a_run_that_loads(teacher, dataset, tmp_path):
    rc, events = _run("finetune", tmp_path, {"out": "ft-run", "data": {"dir": str(dataset)}, "model": {"run": str(teacher.path)},
                                             "train": {**TRAIN, "epochs": 1}, "id": "tiny-ft", "version": "2"})
    assert rc == 0
    result = _check_protocol(events, "finetune", 1)
    run = RunDir(result["outputs"]["dir"])
    model, _ = load_model(run)  # checkpoint.safetensors + config.json: finetune accepts this as a run again
    manifest = load_manifest(run.manifest)
    assert (manifest["id"], manifest["version"], manifest["model"]["file"]) == ("tiny-ft", "2", "model.onnx")
    spec = manifest["input"]
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((2, 3, spec["frames"], spec["cropSize"], spec["cropSize"])).astype(np.float32))
    with torch.no_grad():
        assert np.abs(model(x).numpy() - _logits(run.path / "model.onnx", spec["frames"], spec["cropSize"])).max() < 1e-4


def test_distill_a_smaller_x3d_student_at_its_own_frames_and_crop(teacher, dataset, tmp_path):
    student = {"arch": "x3d", "preset": "tiny", "width_factor": 0.25, "depth_factor": 0.5, "frames": 4, "crop": 32}
    rc, events = _run("distill", tmp_path, {"out": "student", "data": {"dir": str(dataset)}, "teacher": {"run": str(teacher.path)},
                                            "student": student, "distillation": {"alpha": 0.9, "temperature": 4}, "train": TRAIN})
    assert rc == 0
    result = _check_protocol(events, "distill", 2)
    start = events[0]["student"]
    teacher_manifest = load_manifest(teacher.manifest)
    manifest = load_manifest(result["outputs"]["manifest"])
    assert manifest["provenance"]["parent"]["sha256"] == sha256_file(teacher.onnx)
    assert [p["name"] for p in manifest["provenance"]["passes"]] == ["distill"]
    assert manifest["provenance"]["passes"][0]["params"]["student"] == student
    t_in, s_in = teacher_manifest["input"], manifest["input"]
    assert (s_in["frames"], s_in["cropSize"], manifest["sampling"]["frames"]) == (4, 32, 4)
    # The same field of view as the teacher's crop; the teacher's normalization and clip duration.
    assert s_in["shortSideSize"] == round(t_in["shortSideSize"] * 32 / t_in["cropSize"])
    assert (s_in["mean"], s_in["std"]) == (t_in["mean"], t_in["std"])
    assert manifest["sampling"]["clipDuration"] == teacher_manifest["sampling"]["clipDuration"]
    assert manifest["labels"] == teacher_manifest["labels"]
    teacher_params = teacher_manifest["provenance"]["passes"][0]["params"]
    print(f"student {start['params']} params, {start['macs']} MACs vs teacher {teacher_params['params']} params, "
          f"{teacher_params['macs']} MACs; student val top-1 {manifest['metrics']['val.top1']:.3f}, "
          f"teacher {manifest['metrics']['teacher.val.top1']:.3f}")
    assert start["params"] < teacher_params["params"] / 2 and start["macs"] < teacher_params["macs"] / 10
    assert _logits(Path(result["outputs"]["onnx"]), 4, 32).shape == (2, len(manifest["labels"]))
    model, _ = load_model(RunDir(result["outputs"]["dir"]))
    assert sum(p.numel() for p in model.parameters()) == start["params"]


def test_progress_goes_to_stdout_and_people_to_stderr(teacher, dataset, tmp_path):
    """As the compiler spawns it: stdout carries only JSON lines."""
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"out": "o", "data": {"dir": str(dataset)}, "model": {"run": str(teacher.path)},
                               "train": {**TRAIN, "epochs": 1}}))
    proc = subprocess.run([sys.executable, "-m", "videotrain", "finetune", "--config", str(cfg)], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    _check_protocol(lines, "finetune", 1)
    assert "epoch 1/1" in proc.stderr and "{" not in proc.stderr


@pytest.mark.parametrize("config,message", [
    ({"data": {"dir": "d"}, "model": {"run": "r"}}, r"cfg\.json: \(root\): 'out' is a required property"),
    ({"out": "o", "data": {"dir": "d"}, "model": {"run": "r"}, "train": {"epochs": 0}},
     r"cfg\.json: train\.epochs: 0 is less than the minimum of 1"),
    ({"out": "o", "data": {"dir": "d"}, "model": {"onnx": "m.onnx"}},
     r'cfg\.json: model: give either \{"run": DIR\} or \{"onnx": FILE, "manifest": FILE\}'),
    ({"out": "o", "data": {}, "model": {"run": "r"}}, r"cfg\.json: data: give \{\"dir\": DIR\}"),
    ({"out": "o", "data": {"dir": "d"}, "model": {"run": "r"}, "lr": 1}, r"cfg\.json: \(root\): Additional properties .*'lr'"),
    ({"out": "o", "data": {"dir": "d"}}, r"cfg\.json: model: required for finetune"),
    ({"out": "o", "data": {"dir": "d"}, "model": {"run": "/no/such/run"}}, r"cfg\.json: model: /no/such/run: no such run directory"),
    ({"out": "o", "data": {"dir": "d"}, "model": {"onnx": "x.onnx", "manifest": "m.json"}}, r"cfg\.json: model: .*m\.json: invalid manifest: \(root\): file not found"),
])
def test_bad_config_is_one_clear_error(tmp_path, config, message):
    rc, events = _run("finetune", tmp_path, config)
    assert rc == 2
    assert len(events) == 1 and events[0]["event"] == "error" and events[0]["kind"] == "input"
    assert re.search(message, events[0]["message"]), events[0]["message"]


def test_bad_distill_configs(tmp_path):
    bad = {"out": "o", "data": {"dir": "d"}, "teacher": {"run": "t"}, "student": {"arch": "c2d_r50", "preset": "tiny", "width_factor": 2}}
    (tmp_path / "d.json").write_text(json.dumps(bad))
    with pytest.raises(ConfigError, match=r"student\.width_factor: overrides are supported for arch x3d only"):
        load_config(tmp_path / "d.json", "distill")
    (tmp_path / "d.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"d\.json: not valid JSON"):
        load_config(tmp_path / "d.json", "distill")


def test_a_student_shape_the_zoo_cannot_build_is_an_error_event(teacher, dataset, tmp_path):
    rc, events = _run("distill", tmp_path, {"out": "o", "data": {"dir": str(dataset)}, "teacher": {"run": str(teacher.path)},
                                            "student": {"arch": "slowfast_r50", "preset": "tiny", "frames": 6}})
    assert rc == 2 and [e["event"] for e in events] == ["error"]
    assert re.search(r"cfg\.json: student: slowfast_r50: frames must be a multiple of 4", events[0]["message"]), events[0]["message"]
    assert not (tmp_path / "o").exists()


def test_bad_data_is_an_error_event(teacher, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("a\nb\n")
    lst = tmp_path / "list.txt"
    lst.write_text("x.mp4 0\n")
    rc, events = _run("finetune", tmp_path, {"out": "o", "data": {"trainList": "list.txt", "valList": "list.txt", "labels": "labels.txt"},
                                             "model": {"run": str(teacher.path)}})
    assert rc == 2 and events[-1]["event"] == "error"
    assert "labels.txt: labels ['a', 'b'] differ from the model's" in events[-1]["message"]


def test_distill_loss_is_the_documented_formula():
    torch.manual_seed(0)
    s, t, y = torch.randn(6, 5), torch.randn(6, 5), torch.randint(0, 5, (6,))
    temp = 3.0
    p_t = torch.softmax(t / temp, 1)
    kl = (p_t * (p_t.log() - torch.log_softmax(s / temp, 1))).sum(1).mean() * temp**2
    ce = torch.nn.functional.cross_entropy(s, y)
    loss, parts = distill_loss(s, t, y, alpha=0.25, temperature=temp)
    assert torch.allclose(loss, 0.25 * kl + 0.75 * ce, atol=1e-6)
    assert parts["kl"] == pytest.approx(kl.item(), abs=1e-6) and parts["ce"] == pytest.approx(ce.item(), abs=1e-6)
    assert distill_loss(s, s, y, alpha=1.0, temperature=temp)[0].abs().item() < 1e-6  # the same logits: nothing to learn


def test_student_input_is_derived_from_the_teacher_clip():
    x = torch.arange(8, dtype=torch.float32).view(1, 1, 8, 1, 1).expand(2, 3, 8, 16, 16).contiguous()
    spec = {"frames": 8, "cropSize": 16, "mean": [0.45] * 3, "std": [0.225] * 3}
    assert torch.equal(derive_input(x, spec, spec), x)
    y = derive_input(x, spec, {**spec, "frames": 4, "cropSize": 8})
    assert y.shape == (2, 3, 4, 8, 8)
    assert y[0, 0, :, 0, 0].tolist() == [0.0, 2.0, 4.0, 7.0]  # UniformTemporalSubsample's floor(i*7/3)
    z = derive_input(x, spec, {**spec, "mean": [0.5] * 3, "std": [0.25] * 3})
    assert torch.allclose(z * 0.25 + 0.5, x * 0.225 + 0.45, atol=1e-6)  # the same pixels
