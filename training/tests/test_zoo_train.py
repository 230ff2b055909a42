"""`videotrain train --arch <zoo model> --preset tiny` end to end on CPU, and the registry's presets."""

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from videotrain.cli import main
from videotrain.data.synthetic import generate_dataset
from videotrain.manifest import validate_manifest
from videotrain.models import MODEL_REGISTRY, build_from_config, build_model, get_preset, model_kwargs
from videotrain.models.profile import count_params
from videotrain.runs import RunDir, load_model
from videotrain.train import input_spec_for

ZOO_ARCHS = ("slowfast_r50", "c2d_r50", "mvit_v2_s")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("zoo-data")
    # 8 classes × 1 clip: one training step of batch 8 per epoch.
    generate_dataset(out, clips_per_class_train=1, clips_per_class_val=1, seed=0, workers=2, progress=False)
    return out


@pytest.mark.parametrize("arch", ZOO_ARCHS)
def test_train_one_step_and_export(arch, dataset, tmp_path):
    out = tmp_path / arch
    code = main([
        "train", "--data", str(dataset), "--arch", arch, "--preset", "tiny", "--epochs", "1", "--batch-size", "8",
        "--out", str(out), "--workers", "0", "--threads", "2", "--no-progress", "--id", f"zoo-{arch}", "--version", "1",
    ])
    assert code == 0
    run = RunDir(out)
    manifest = validate_manifest(json.loads(run.manifest.read_text()))
    assert manifest["architecture"] == f"{arch}-tiny"
    # One NCTHW clip for every architecture; SlowFast's is the fast pathway's 16 frames.
    frames = 16 if arch == "slowfast_r50" else 8
    spec = manifest["input"]
    assert (spec["layout"], spec["frames"], spec["cropSize"], spec["shortSideSize"]) == ("NCTHW", frames, 64, 72)
    assert manifest["sampling"]["frames"] == frames
    assert manifest["metrics"]["export.maxAbsDiff"] < 1e-4
    graph = onnx.load(str(run.onnx)).graph
    (inp,) = graph.input
    assert [d.dim_value for d in inp.type.tensor_type.shape.dim[1:]] == [3, frames, 64, 64]

    # What comes back from the run directory computes what teacher.onnx computes.
    model, config = load_model(run)
    assert config["arch"] == arch
    x = torch.randn(3, 3, frames, 64, 64)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    (got,) = ort.InferenceSession(str(run.onnx), opts, providers=["CPUExecutionProvider"]).run(["logits"], {"video": x.numpy()})
    with torch.no_grad():
        want = model(x).numpy()
    assert got.shape == (3, 8)
    np.testing.assert_allclose(got, want, atol=1e-4)


@pytest.mark.parametrize("arch", ZOO_ARCHS)
def test_every_preset_builds_and_rebuilds_from_json(arch):
    for name, preset in MODEL_REGISTRY[arch].presets.items():
        kwargs = json.loads(json.dumps(model_kwargs(arch, name, 7)))  # as config.json stores them
        rebuilt = build_from_config({"arch": arch, "modelKwargs": kwargs})
        assert count_params(rebuilt) == count_params(build_model(arch, name, 7))
        spec = input_spec_for(arch, name)
        assert (spec["frames"], spec["cropSize"], spec["mean"], spec["std"]) == (
            preset.frames, preset.crop_size, [0.45] * 3, [0.225] * 3)
        assert preset.crop_size <= preset.short_side_size
    tiny = build_model(arch, "tiny", 7)
    assert count_params(tiny) < 1_000_000
    with torch.no_grad():
        assert tiny.eval()(torch.randn(1, 3, get_preset(arch, "tiny").frames, 64, 64)).shape == (1, 7)


def test_zoo_presets_feed_the_zoo_clips():
    # frames × sampling rate at 30 fps: SlowFast 8×8 takes the fast pathway's
    # 32 frames (slow: every 4th), C2D 8×8 eight, MViTv2-S 16×4 sixteen; all span 64 frames.
    assert [(get_preset(a, p).frames, get_preset(a, p).crop_size) for a, p in
            (("slowfast_r50", "8x8"), ("c2d_r50", "8x8"), ("mvit_v2_s", "16x4"))] == [(32, 224), (8, 224), (16, 224)]
    assert {get_preset(a, p).clip_duration for a, p in (("slowfast_r50", "8x8"), ("c2d_r50", "8x8"), ("mvit_v2_s", "16x4"))} == {64 / 30}
    assert model_kwargs("mvit_v2_s", "16x4", 5)["num_classes"] == 5  # torchvision's argument name
    assert model_kwargs("slowfast_r50", "8x8", 5)["model_num_class"] == 5  # PyTorchVideo's
