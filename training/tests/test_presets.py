"""Preset files (training/presets/*.json): every bundled one loads and builds
its model at the zoo's size; TrainOptions' defaults are tiny.json's; flags
override a file; bad files name the file and the key; --resume through the
CLI continues a run instead of restarting it."""

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import torch

from videotrain.cli import build_parser, main, train_options
from videotrain.data.synthetic import generate_dataset
from videotrain.models import build_model, model_kwargs
from videotrain.models.profile import count_params
from videotrain.recipes import FIELDS, PRESETS_DIR, PresetError, bundled_presets, load_preset, resolve
from videotrain.runs import RunDir
from videotrain.train import TrainOptions

# Millions of parameters at 400 classes, as PyTorchVideo's and torchvision's zoos list them.
ZOO_PARAMS = {
    "x3d_xs_kinetics": 3.79, "x3d_s_kinetics": 3.79, "x3d_m_kinetics": 3.79, "x3d_l_kinetics": 6.15,
    "slowfast_r50_kinetics": 34.57, "c2d_r50_kinetics": 24.33, "mvit_v2_s_kinetics": 34.54,
}


def _options(*argv: str) -> TrainOptions:
    torch.set_num_threads(1)
    return train_options(build_parser().parse_args(["train", "--out", "unused", *argv]))


def test_the_bundled_presets_are_tiny_its_fine_tuning_and_the_kinetics_recipes():
    assert bundled_presets() == sorted(["tiny", "tiny_finetune", *ZOO_PARAMS])
    tune = load_preset(PRESETS_DIR / "tiny_finetune.json")
    assert (tune["arch"], tune["preset"], tune["backbone_lr_mult"], tune["freeze_backbone"]) == ("x3d", "tiny", 0.1, False)


@pytest.mark.parametrize("name", sorted(ZOO_PARAMS))
def test_a_kinetics_preset_builds_the_zoo_model_at_its_published_size(name):
    options = load_preset(PRESETS_DIR / f"{name}.json")
    arch, model = options["arch"], options["preset"]
    size = {"frames": options["frames"], "crop_size": options["crop_size"]}
    # The file's input is the zoo model's own, so the published sizes apply.
    assert model_kwargs(arch, model, 400, **size) == model_kwargs(arch, model, 400)
    torch.manual_seed(0)
    params = count_params(build_model(arch, model, 400, **size))
    print(f"{name}: {params / 1e6:.3f}M params")
    assert round(params / 1e6, 2) == ZOO_PARAMS[name]
    # A GPU recipe: bf16 where the device has it, every epoch's batch a whole number of clips.
    assert options["amp"] == "auto" and options["epochs"] > options["warmup_epochs"] > 0
    doc = json.loads((PRESETS_DIR / f"{name}.json").read_text())
    assert "PySlowFast" in doc["source"] and "Kinetics-400" in doc["description"]


def test_tiny_preset_is_the_trainers_defaults_and_trains_a_cpu_model():
    options = load_preset(PRESETS_DIR / "tiny.json")
    defaults = TrainOptions(out="unused")
    # The bundled default model and the e2e test depend on these being the same recipe.
    for field, value in options.items():
        if field not in ("frames", "crop_size", "short_side_size", "clip_duration", "clips_per_video"):
            assert getattr(defaults, field) == value, field
    assert model_kwargs("x3d", "tiny", 8, frames=options["frames"], crop_size=options["crop_size"]) == model_kwargs("x3d", "tiny", 8)
    torch.manual_seed(0)
    net = build_model("x3d", "tiny", 8).eval()
    assert count_params(net) < 200_000
    assert net(torch.randn(2, 3, options["frames"], options["crop_size"], options["crop_size"])).shape == (2, 8)


def test_every_preset_file_key_reaches_an_option():
    fields = {f.name for f in dataclasses.fields(TrainOptions)}
    assert set(FIELDS.values()) <= fields
    schema = json.loads((PRESETS_DIR / "preset.schema.json").read_text())["properties"]
    for keys in FIELDS:
        section = schema[keys[0]] if len(keys) == 1 else schema[keys[0]]["properties"][keys[1]]
        assert section, keys


def test_preset_name_flags_override_the_file():
    o = _options("--preset", "x3d_m_kinetics", "--epochs", "5", "--lr", "0.01", "--mixup", "0.2", "--test-crops", "1")
    assert (o.arch, o.preset, o.recipe) == ("x3d", "m", "x3d_m_kinetics")
    assert (o.epochs, o.lr, o.mixup, o.test_crops) == (5, 0.01, 0.2, 1)
    assert (o.batch_size, o.warmup_epochs, o.hflip, o.test_clips, o.frames) == (128, 35, "on", 10, 16)  # from the file
    mvit = _options("--preset", "mvit_v2_s_kinetics", "--randaugment", "2,9")
    assert mvit.rand_augment == (2, 9.0) and mvit.label_smoothing == 0.1 and mvit.cutmix == 1.0


def test_default_and_bare_model_presets_keep_working():
    assert dataclasses.asdict(_options()) == dataclasses.asdict(_options("--arch", "x3d", "--preset", "tiny"))
    assert _options().recipe == "tiny"
    c2d = _options("--arch", "c2d_r50", "--preset", "tiny")
    assert (c2d.arch, c2d.preset, c2d.recipe, c2d.epochs, c2d.frames) == ("c2d_r50", "tiny", None, 30, None)


def test_a_copied_config_file_sets_the_model_input(tmp_path):
    doc = json.loads((PRESETS_DIR / "x3d_s_kinetics.json").read_text())
    doc["input"].update(frames=8, cropSize=128, shortSideSize=144)
    doc["train"]["batchSize"] = 32
    mine = tmp_path / "mine.json"
    mine.write_text(json.dumps(doc))
    o = _options("--config", str(mine), "--crop-size", "96")
    assert (o.recipe, o.preset, o.frames, o.crop_size, o.short_side_size, o.batch_size) == (str(mine), "s", 8, 96, 144, 32)
    kwargs = model_kwargs(o.arch, o.preset, 10, **o.input())
    assert (kwargs["input_clip_length"], kwargs["input_crop_size"]) == (8, 96)
    # --preset next to --config swaps the file's model for another size of the same arch.
    assert _options("--config", str(mine), "--preset", "m").preset == "m"


def _bad(tmp_path, edit) -> str:
    doc = json.loads((PRESETS_DIR / "tiny.json").read_text())
    edit(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(PresetError) as e:
        load_preset(path)
    assert str(path) in str(e.value)
    return str(e.value)


def test_bad_files_name_the_file_and_the_key(tmp_path):
    assert "train.lrr: unknown key" in _bad(tmp_path, lambda d: d["train"].update(lrr=1))
    assert "train.lr: 'fast' is not of type 'number'" in _bad(tmp_path, lambda d: d["train"].update(lr="fast"))
    assert "train.epochs: 0 is less than the minimum of 1" in _bad(tmp_path, lambda d: d["train"].update(epochs=0))
    assert "augment.hflip" in _bad(tmp_path, lambda d: d["augment"].update(hflip="sometimes"))
    assert "(file): 'model' is a required property" in _bad(tmp_path, lambda d: d.pop("model"))
    assert "optimizer: unknown key" in _bad(tmp_path, lambda d: d.update(optimizer="sgd"))
    assert "arch/model: unknown preset 'huge' for x3d" in _bad(tmp_path, lambda d: d.update(model="huge"))
    assert "input: c2d_r50: frames must be a multiple of 2" in _bad(
        tmp_path, lambda d: d.update(arch="c2d_r50", input={"frames": 7}))
    assert "input: x3d: the crop (96) must fit the short side (72)" in _bad(tmp_path, lambda d: d["input"].update(cropSize=96))
    (tmp_path / "broken.json").write_text('{"arch": "x3d",')
    with pytest.raises(PresetError, match=r"broken.json: not valid JSON"):
        load_preset(tmp_path / "broken.json")
    with pytest.raises(PresetError, match=r"trains x3d, not --arch c2d_r50"):
        resolve(preset="x3d_m_kinetics", config=None, arch="c2d_r50")


def test_cli_prints_one_error_line_for_a_bad_config(tmp_path, capsys):
    path = tmp_path / "typo.json"
    path.write_text(json.dumps({"arch": "x3d", "model": "tiny", "train": {"batchsize": 8}}))
    assert main(["train", "--config", str(path), "--data", str(tmp_path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(path) in err and "train.batchsize: unknown key" in err
    assert main(["train", "--preset", "x3d_huge", "--data", str(tmp_path), "--out", str(tmp_path / "run")]) == 2
    assert "--preset x3d_huge: not a preset file" in capsys.readouterr().err


@pytest.fixture(scope="module")
def two_videos(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("two")
    generate_dataset(out, clips_per_class_train=1, clips_per_class_val=0, seed=1, workers=1, progress=False)
    two = (out / "train.txt").read_text().splitlines()[:2]
    for name in ("train2.txt", "val2.txt"):
        (out / name).write_text("\n".join(two) + "\n")
    return out


def test_resume_through_the_cli_continues_the_run(two_videos, tmp_path, capsys):
    d = two_videos
    out = tmp_path / "run"
    argv = ["train", "--preset", "tiny", "--train-list", str(d / "train2.txt"), "--val-list", str(d / "val2.txt"),
            "--labels", str(d / "labels.txt"), "--epochs", "2", "--batch-size", "2", "--workers", "0", "--threads", "1",
            "--no-progress", "--no-tensorboard", "--out", str(out)]
    assert main([*argv, "--stop-after", "1"]) == 0
    run = RunDir(out)
    first = json.loads(run.metrics.read_text())["history"]
    assert [h["epoch"] for h in first] == [1] and not run.manifest.exists()
    capsys.readouterr()
    assert main([*argv, "--resume"]) == 0
    said = capsys.readouterr().out
    assert "resuming" in said and "at epoch 2/2" in said and "epoch 1/2" not in said
    history = json.loads(run.metrics.read_text())["history"]
    assert [h["epoch"] for h in history] == [1, 2] and history[0] == first[0]
    # The run records which preset file it was trained from.
    train_pass = next(p for p in json.loads(run.manifest.read_text())["provenance"]["passes"] if p["name"] == "train")
    assert train_pass["params"]["recipe"] == "tiny" and train_pass["params"]["epochs"] == 2
    assert json.loads(run.config.read_text())["train"]["recipe"] == "tiny"


def test_a_copied_preset_file_is_a_valid_starting_point(tmp_path):
    shutil.copy(PRESETS_DIR / "x3d_xs_kinetics.json", tmp_path / "copy.json")
    assert load_preset(tmp_path / "copy.json") == load_preset(PRESETS_DIR / "x3d_xs_kinetics.json")
