"""Training end to end on a handful of real H.264 clips: the run directory, resume, evaluate, CLI errors."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from safetensors.torch import load_file

from videotrain.cli import main
from videotrain.data.synthetic import generate_dataset
from videotrain.manifest import sha256_file, validate_manifest
from videotrain.runs import RunDir, RunError, evaluate_onnx, load_model
from videotrain.train import TrainOptions, train

CLASSES = 8


@pytest.fixture(scope="session")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synthetic")
    generate_dataset(out, clips_per_class_train=3, clips_per_class_val=1, seed=0, workers=2, progress=False)
    return out


def _opts(dataset, out, **kw) -> TrainOptions:
    base = dict(out=str(out), data=str(dataset), preset="tiny", epochs=2, batch_size=8, workers=0, threads=2,
                progress=False, id="test-tiny", version="1")
    return TrainOptions(**{**base, **kw})


@pytest.fixture(scope="module")
def run(dataset, tmp_path_factory) -> RunDir:
    out = tmp_path_factory.mktemp("runs") / "tiny"
    # Two DataLoader workers here; the resume test below uses none and must get the same weights.
    train(_opts(dataset, out, workers=2))
    return RunDir(out)


def test_run_directory_is_complete_and_valid(run, dataset):
    for f in (run.checkpoint, run.config, run.last, run.onnx, run.manifest, run.metrics, run.labels, run.curves):
        assert f.is_file() and f.stat().st_size > 0, f.name
    manifest = validate_manifest(json.loads(run.manifest.read_text()))
    assert manifest["id"] == "test-tiny" and manifest["architecture"] == "x3d-tiny"
    assert manifest["model"] == {"file": "teacher.onnx", "sha256": sha256_file(run.onnx), "bytes": run.onnx.stat().st_size, "opset": 17}
    assert manifest["labels"] == (dataset / "labels.txt").read_text().split() == run.labels.read_text().split()
    assert manifest["input"]["frames"] == manifest["sampling"]["frames"] == 8
    assert (manifest["input"]["cropSize"], manifest["input"]["shortSideSize"]) == (64, 72)
    assert manifest["output"] == {"name": "logits", "kind": "logits"}
    assert manifest["sampling"]["clipSampler"]["kind"] == "constant_clips_per_video"
    assert [p["name"] for p in manifest["provenance"]["passes"]] == ["train", "export-onnx"]
    assert manifest["provenance"]["dataset"] == {"name": "synthetic-motion", "seed": 0, "classes": CLASSES, "trainClips": 24, "valClips": 8}
    m = manifest["metrics"]
    assert 0 <= m["val.top1"] <= m["val.top5"] <= 1 and m["export.maxAbsDiff"] < 1e-4
    history = json.loads(run.metrics.read_text())["history"]
    assert [h["epoch"] for h in history] == [1, 2]
    assert max(h["val.top1"] for h in history) == m["val.top1"]
    assert run.curves.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The checkpoint carries PyTorchVideo parameter names.
    assert "blocks.5.proj.weight" in load_file(str(run.checkpoint))


def test_checkpoint_and_onnx_agree_on_a_real_clip(run, dataset):
    from videotrain.data.dataset import ClipDataset
    from videotrain.data.labeled import load_labeled_list
    from videotrain.transforms import eval_transform

    manifest = json.loads(run.manifest.read_text())
    model, config = load_model(run)
    assert config["modelKwargs"]["model_num_class"] == CLASSES
    ds = ClipDataset(load_labeled_list(dataset / "val.txt"), manifest["sampling"], eval_transform(manifest["input"]))
    x = torch.stack([ds[i]["video"] for i in range(3)])
    with torch.no_grad():
        want = model(x).numpy()
    (got,) = ort.InferenceSession(str(run.onnx), providers=["CPUExecutionProvider"]).run(None, {"video": x.numpy()})
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_evaluate_reproduces_the_validation_score(run, dataset, capsys):
    manifest = json.loads(run.manifest.read_text())
    out = run.path / "eval" / "val.json"
    assert main(["evaluate", "--run", str(run.path), "--list", str(dataset / "val.txt"), "--out", str(out), "--no-progress"]) == 0
    assert "top-1" in capsys.readouterr().out
    result = json.loads(out.read_text())
    assert len(result["videos"]) == 8 and not result["skipped"]
    # Same clips, same transform, the exported best epoch: the same score as training's validation.
    assert result["top1"] == pytest.approx(manifest["metrics"]["val.top1"], abs=1e-12)
    clips = manifest["sampling"]["clipSampler"]["clipsPerVideo"]
    for v in result["videos"]:
        assert np.array(v["clipLogits"]).shape == (clips, CLASSES)
        assert v["pred"] == v["top5"][0]["index"] and v["predName"] == manifest["labels"][v["pred"]]
    assert result["model"]["sha256"] == manifest["model"]["sha256"]


def test_evaluate_with_keyframe_selection_dumps_clips(run, dataset, capsys):
    """The reference for the Worker's MP4 path: keyframes only, per-clip windows, frame times and softmax."""
    from videotrain.data.video import probe_video

    manifest = json.loads(run.manifest.read_text())
    out = run.path / "eval" / "val-keyframes.json"
    args = ["evaluate", "--run", str(run.path), "--list", str(dataset / "val.txt"), "--out", str(out), "--no-progress"]
    assert main(args + ["--frame-selector", "keyframe"]) == 0
    result = json.loads(out.read_text())
    uniform = evaluate_onnx(run.path, dataset / "val.txt", out=run.path / "eval" / "val-uniform.json", progress=False)
    assert result["sampling"] == {**manifest["sampling"], "frameSelector": "keyframe"}
    assert uniform["sampling"]["frameSelector"] == manifest["sampling"]["frameSelector"]
    moved = 0
    for v, u in zip(result["videos"], uniform["videos"]):
        info = probe_video(v["path"])
        keyframe_times = {info.frame_times[k] for k in info.keyframes}
        assert len(v["clips"]) == manifest["sampling"]["clipSampler"]["clipsPerVideo"]
        for clip, logits, uclip in zip(v["clips"], v["clipLogits"], u["clips"]):
            assert len(clip["times"]) == manifest["input"]["frames"]
            assert set(clip["times"]) <= keyframe_times
            e = np.exp(np.array(logits) - max(logits))
            np.testing.assert_allclose(clip["probs"], e / e.sum(), rtol=1e-12)
            moved += clip["times"] != uclip["times"]
        mean = np.mean([c["probs"] for c in v["clips"]], axis=0)
        assert v["top5"][0]["prob"] == pytest.approx(mean.max(), abs=1e-12)
    assert moved > 0  # the synthetic clips have GOPs longer than one frame: keyframes differ from uniform picks

    three = evaluate_onnx(run.path, dataset / "val.txt", out=run.path / "eval" / "val-3.json", progress=False,
                          frame_selector="keyframe", clips_per_video=3)
    assert three["sampling"]["clipSampler"] == {"kind": "constant_clips_per_video", "clipsPerVideo": 3}
    for v in three["videos"]:
        starts = [c["start"] for c in v["clips"]]
        assert len(starts) == 3 and starts[0] == 0 and starts == sorted(starts)


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(run, dataset, tmp_path):
    out = tmp_path / "resumed"
    assert train(_opts(dataset, out, stop_after=1)) == {}
    rd = RunDir(out)
    assert rd.last.is_file() and not rd.manifest.exists() and not rd.onnx.exists()
    manifest = train(_opts(dataset, out, resume=True))
    assert manifest["metrics"]["val.top1"] == json.loads(run.manifest.read_text())["metrics"]["val.top1"]
    a = torch.load(run.last, weights_only=False)
    b = torch.load(rd.last, weights_only=False)
    assert a["epoch"] == b["epoch"] == 2
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
    assert a["optimizer"]["state"].keys() == b["optimizer"]["state"].keys()
    strip = lambda h: [{k: v for k, v in e.items() if k != "seconds"} for e in h]  # noqa: E731
    assert strip(a["history"]) == strip(b["history"])


def test_a_finished_or_foreign_run_directory_is_not_clobbered(run, dataset, tmp_path):
    with pytest.raises(RunError, match="already holds a run"):
        train(_opts(dataset, run.path))
    with pytest.raises(RunError, match="already trained 2 of 2"):
        train(_opts(dataset, run.path, resume=True))
    with pytest.raises(RunError, match="nothing to resume"):
        train(_opts(dataset, tmp_path / "empty", resume=True))


def _cli_error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    return err


def test_cli_reports_user_mistakes_in_one_line(dataset, tmp_path, capsys):
    err = _cli_error(capsys, ["train", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "r")])
    assert str(tmp_path / "nope") in err

    no_labels = tmp_path / "no-labels"
    no_labels.mkdir()
    for name in ("train.txt", "val.txt"):
        (no_labels / name).write_text((dataset / name).read_text())
    err = _cli_error(capsys, ["train", "--data", str(no_labels), "--out", str(tmp_path / "r")])
    assert "labels.txt" in err and "not found" in err

    bad = tmp_path / "bad-label"
    bad.mkdir()
    (bad / "labels.txt").write_text((dataset / "labels.txt").read_text())
    (bad / "train.txt").write_text(f"{dataset / 'videos/move_left/train_00000.mp4'} 8\n")
    (bad / "val.txt").write_text((dataset / "val.txt").read_text())
    err = _cli_error(capsys, ["train", "--data", str(bad), "--out", str(tmp_path / "r")])
    assert "train.txt" in err and "out of range" in err

    err = _cli_error(capsys, ["train", "--train-list", str(dataset / "train.txt"), "--out", str(tmp_path / "r")])
    assert "--val-list" in err and "--labels" in err

    err = _cli_error(capsys, ["evaluate", "--run", str(tmp_path / "no-run"), "--list", str(dataset / "val.txt")])
    assert "no-run" in err
    assert not (tmp_path / "r").exists()


def test_check_reports_torch_and_device():
    r = subprocess.run([sys.executable, "-m", "videotrain", "check", "--json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(r.stdout)
    assert report["ok"] and report["packages"]["torch"] == torch.__version__
    assert report["device"] in ("cpu", "cuda", "mps")
