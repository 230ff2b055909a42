"""Training runs with the loop's options on real H.264 clips: every option at once, exact
resume with fp16 and a grad scaler, and two gloo processes under torchrun via `npm run train -- --gpus 2`."""

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from videotrain.cli import main
from videotrain.data.dataset import ClipDataset
from videotrain.data.labeled import load_labeled_list
from videotrain.data.synthetic import generate_dataset
from videotrain.distributed import Dist
from videotrain.evaluation import VideoScores, multiview_transform, score
from videotrain.manifest import validate_manifest
from videotrain.runs import RunDir, load_model
from videotrain.train import TrainOptions, train
from videotrain.transforms import eval_transform

ROOT = Path(__file__).resolve().parents[2]
VAL_VIDEOS = 8


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synthetic")
    generate_dataset(out, clips_per_class_train=2, clips_per_class_val=1, seed=0, workers=2, progress=False)
    return out


def _opts(dataset, out, **kw) -> TrainOptions:
    base = dict(out=str(out), data=str(dataset), preset="tiny", epochs=2, batch_size=4, workers=0, threads=1,
                progress=False, id="test-loop", version="1")
    return TrainOptions(**{**base, **kw})


def _trace_share(matrix) -> float:
    return sum(matrix[i][i] for i in range(len(matrix))) / sum(map(sum, matrix))


@pytest.fixture(scope="module")
def features(dataset, tmp_path_factory) -> RunDir:
    out = tmp_path_factory.mktemp("runs") / "features"
    train(_opts(dataset, out, amp="bf16", accum_steps=2, checkpoint_activations=True, torchscript=True,
                test_clips=2, test_crops=3))
    return RunDir(out)


def test_every_option_at_once_writes_a_complete_run(features):
    run = features
    for f in (run.best, run.checkpoint, run.torchscript, run.confusion, run.test_confusion, run.curves, run.onnx):
        assert f.is_file() and f.stat().st_size > 0, f.name
    best, final = load_file(str(run.best)), load_file(str(run.checkpoint))
    assert best.keys() == final.keys() and all(torch.equal(best[k], final[k]) for k in best)

    config = json.loads(run.config.read_text())
    assert {k: config["train"][k] for k in ("amp", "accumSteps", "checkpointActivations", "processes")} == {
        "amp": "bfloat16", "accumSteps": 2, "checkpointActivations": True, "processes": 1}
    # 16 videos in batches of 4, two batches per step: 2 steps an epoch.
    assert torch.load(run.last, weights_only=False)["scheduler"]["last_epoch"] == 4

    metrics = json.loads(run.metrics.read_text())
    confusion = metrics["confusion"]
    assert confusion["epoch"] == metrics["best"]["epoch"] and confusion["labels"] == run.labels.read_text().split()
    assert sum(map(sum, confusion["matrix"])) == VAL_VIDEOS
    assert _trace_share(confusion["matrix"]) == metrics["best"]["top1"]

    test = metrics["test"]
    assert (test["clipsPerVideo"], test["crops"], test["test.videos"], test["test.clips"]) == (2, 3, VAL_VIDEOS, VAL_VIDEOS * 6)
    assert _trace_share(test["confusion"]["matrix"]) == test["test.top1"] <= test["test.top5"]
    manifest = validate_manifest(json.loads(run.manifest.read_text()))
    assert manifest["metrics"]["test.top1"] == test["test.top1"]
    assert run.confusion.read_bytes()[:4] == run.test_confusion.read_bytes()[:4] == b"\x89PNG"


def test_torchscript_file_computes_the_checkpoint(features, dataset):
    model, config = load_model(features)
    ds = ClipDataset(load_labeled_list(dataset / "val.txt"), config["sampling"], eval_transform(config["input"]))
    x = torch.stack([ds[i]["video"] for i in range(3)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.load(str(features.torchscript))
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), model(x), rtol=0, atol=1e-5)


def test_tensorboard_has_the_history(features):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    history = json.loads(features.metrics.read_text())["history"]
    events = EventAccumulator(str(features.tensorboard))
    events.Reload()
    top1 = events.Scalars("val/top1")
    assert [e.step for e in top1] == [1, 2]
    assert [e.value for e in top1] == pytest.approx([h["val.top1"] for h in history])
    assert len(events.Scalars("step/loss")) == 4  # one per optimizer step


def test_single_crop_test_views_reproduce_validation(features, dataset):
    """The multi-view path with the validation plan and one crop scores exactly what validation scored."""
    model, config = load_model(features)
    metrics = json.loads(features.metrics.read_text())
    ds = ClipDataset(load_labeled_list(dataset / "val.txt"), config["sampling"], multiview_transform(config["input"], 1))
    loader = torch.utils.data.DataLoader(ds, batch_size=8)  # validation's batch: 2 x the batch size
    got = score(model, loader, torch.device("cpu"), torch.bfloat16, VideoScores(len(ds.videos), len(config["labels"])), Dist(),
                progress=False, desc="test").summary("val")
    best = next(h for h in metrics["history"] if h["epoch"] == metrics["best"]["epoch"])
    assert got["val.top1"] == best["val.top1"] and got["val.top5"] == best["val.top5"]
    assert got["val.loss"] == pytest.approx(best["val.loss"], rel=1e-6)


def test_resume_restores_optimizer_scheduler_and_grad_scaler(dataset, tmp_path):
    fp16 = dict(amp="fp16", accum_steps=2)
    train(_opts(dataset, tmp_path / "straight", **fp16))
    assert train(_opts(dataset, tmp_path / "resumed", stop_after=1, **fp16)) == {}
    train(_opts(dataset, tmp_path / "resumed", resume=True, **fp16))
    a = torch.load(RunDir(tmp_path / "straight").last, weights_only=False)
    b = torch.load(RunDir(tmp_path / "resumed").last, weights_only=False)
    assert a["epoch"] == b["epoch"] == 2
    assert a["scaler"] is not None and a["scaler"] == b["scaler"]
    assert a["scheduler"] == b["scheduler"]
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
    for i, state in a["optimizer"]["state"].items():
        for name, t in state.items():
            assert torch.equal(t, b["optimizer"]["state"][i][name]), (i, name)
    strip = lambda h: [{k: v for k, v in e.items() if k != "seconds"} for e in h]  # noqa: E731
    assert strip(a["history"]) == strip(b["history"]) and a["confusion"] == b["confusion"]


def test_two_processes_under_torchrun_via_npm_run_train(dataset, tmp_path):
    runs = tmp_path / "runs"
    out = runs / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run(
        ["npx", "tsx", "training/cli.ts", "--python", sys.executable, "--gpus", "2",
         "--data", str(dataset), "--preset", "tiny", "--epochs", "1", "--batch-size", "4", "--accum-steps", "2",
         "--checkpoint-activations", "--deterministic", "--test-crops", "3", "--out", str(out),
         "--threads", "1", "--workers", "0", "--no-progress", "--id", "ddp", "--version", "1"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "2 processes x batch 2" in r.stdout
    assert r.stdout.count("epoch 1/1 ") == 1  # rank 0 alone logs
    assert [p.name for p in runs.iterdir()] == ["ddp"]
    assert len(list((out / "tensorboard").iterdir())) == 1  # one event file: rank 0's

    metrics = json.loads((out / "metrics.json").read_text())
    d = metrics["distributed"]
    assert d["processes"] == 2 and d["backend"] == "gloo"
    assert len(d["weightDigests"]) == 2 and len(set(d["weightDigests"])) == 1  # the ranks hold one model
    (epoch,) = metrics["history"]
    # Each rank scored its shard; the reduced counts cover every clip once.
    assert (epoch["val.videos"], epoch["val.clips"]) == (VAL_VIDEOS, VAL_VIDEOS)
    assert (metrics["test"]["test.videos"], metrics["test"]["test.clips"]) == (VAL_VIDEOS, VAL_VIDEOS * 3)
    assert sum(map(sum, metrics["confusion"]["matrix"])) == VAL_VIDEOS
    # 8 videos per rank in batches of 2, two batches per step: 2 steps.
    assert torch.load(out / "last.ckpt", weights_only=False)["scheduler"]["last_epoch"] == 2
    validate_manifest(json.loads((out / "manifest.json").read_text()))
    assert json.loads((out / "config.json").read_text())["train"]["deterministic"] is True  # and no op refused it


def test_loop_option_mistakes_are_one_line_errors(dataset, tmp_path, capsys, monkeypatch):
    base = ["train", "--data", str(dataset), "--out", str(tmp_path / "r"), "--workers", "0", "--no-progress"]
    assert main([*base, "--accum-steps", "0"]) == 2
    assert "--accum-steps must be >= 1" in capsys.readouterr().err
    # Under torchrun the global batch is split over the processes: it has to divide.
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    assert main([*base, "--batch-size", "5"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "divide by the 2 processes" in err
    assert not (tmp_path / "r").exists()
