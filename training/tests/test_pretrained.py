"""Fine-tuning from a checkpoint (`train --pretrained`): the formats read, what arrives in the model, the head, the errors."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from videotrain.cli import main
from videotrain.data.synthetic import generate_dataset
from videotrain.manifest import sha256_file
from videotrain.models import build_model
from videotrain.pretrained import PretrainedError, head_keys, load_pretrained, read_checkpoint
from videotrain.runs import RunDir
from videotrain.train import param_groups

CLASSES = 8  # the synthetic set's


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synthetic")
    generate_dataset(out, clips_per_class_train=1, clips_per_class_val=1, seed=3, workers=2, progress=False)
    return out


def _pretrained(classes: int, seed: int = 1) -> dict[str, torch.Tensor]:
    """A tiny X3D's weights with non-default BatchNorm statistics, as a trained model has."""
    torch.manual_seed(seed)
    model = build_model("x3d", "tiny", classes)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm3d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return model.state_dict()


def test_a_pyth_with_another_class_count_fine_tunes_from_the_cli_and_the_frozen_backbone_arrives_unchanged(dataset, tmp_path, capsys):
    state = _pretrained(classes=5)
    pyth = tmp_path / "X3D_tiny.pyth"
    torch.save({"model_state": state, "epoch": 42}, pyth)  # PyTorchVideo's release format
    out = tmp_path / "run"
    argv = ["train", "--data", str(dataset), "--pretrained", str(pyth), "--freeze-backbone", "--epochs", "1",
            "--batch-size", "4", "--workers", "0", "--threads", "2", "--no-progress", "--out", str(out)]
    assert main(argv) == 0
    log = "".join(capsys.readouterr())
    assert "blocks.5.proj replaced: 5 -> 8 classes" in log and "backbone frozen" in log

    trained = load_file(str(RunDir(out).checkpoint))
    head = {"blocks.5.proj.weight", "blocks.5.proj.bias"}
    for key, value in state.items():
        if key in head:
            continue
        assert torch.equal(trained[key], value), key  # weights and BatchNorm statistics alike
    assert trained["blocks.5.proj.weight"].shape[0] == CLASSES and state["blocks.5.proj.weight"].shape[0] == 5

    manifest = json.loads(RunDir(out).manifest.read_text())
    assert manifest["provenance"]["parent"] == {"id": "X3D_tiny", "version": "checkpoint", "sha256": sha256_file(pyth)}
    params = manifest["provenance"]["passes"][0]["params"]
    assert params["pretrained"]["sha256"] == sha256_file(pyth) and params["freezeBackbone"] is True


def test_every_format_loads_strictly_and_a_matching_head_is_kept(tmp_path):
    state = _pretrained(classes=CLASSES)
    torch.save(state, tmp_path / "bare.pt")
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, tmp_path / "ddp.pth")
    save_file({k: v.contiguous() for k, v in state.items()}, tmp_path / "w.safetensors")
    run = tmp_path / "run"
    run.mkdir()
    save_file({k: v.contiguous() for k, v in state.items()}, run / "checkpoint.safetensors")
    (run / "manifest.json").write_text(json.dumps({"id": "my-run", "version": "7"}))
    for path, fmt in [(tmp_path / "bare.pt", "torch"), (tmp_path / "ddp.pth", "torch"), (tmp_path / "w.safetensors", "safetensors"), (run, "run")]:
        ckpt = read_checkpoint(path)
        assert ckpt.format == fmt
        model = build_model("x3d", "tiny", CLASSES)
        record = load_pretrained(model, ckpt, "x3d tiny")
        assert record["head"] == "blocks.5.proj kept"
        assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items()), path
    assert (read_checkpoint(run).id, read_checkpoint(run).version) == ("my-run", "7")


def test_a_replaced_head_is_freshly_initialized():
    model = build_model("x3d", "tiny", CLASSES)
    fresh = {k: v.clone() for k, v in model.state_dict().items()}
    state = _pretrained(classes=3)
    from videotrain.pretrained import Checkpoint

    load_pretrained(model, Checkpoint(Path("x.pt"), "torch", "0" * 64, state, "x", "checkpoint"), "x3d tiny")
    after = model.state_dict()
    assert head_keys(model) == {"blocks.5.proj.weight", "blocks.5.proj.bias"}
    assert all(torch.equal(after[k], fresh[k]) for k in head_keys(model))
    assert torch.equal(after["blocks.0.conv.conv_t.weight"], state["blocks.0.conv.conv_t.weight"])


def test_a_checkpoint_of_another_architecture_or_size_is_refused_in_one_line(dataset, tmp_path, capsys):
    torch.save({"model_state": build_model("c2d_r50", "tiny", CLASSES).state_dict()}, tmp_path / "c2d.pyth")
    model = build_model("x3d", "tiny", CLASSES)
    with pytest.raises(PretrainedError) as e:
        load_pretrained(model, read_checkpoint(tmp_path / "c2d.pyth"), "x3d preset tiny")
    message = str(e.value)
    assert "\n" not in message and str(tmp_path / "c2d.pyth") in message and "does not fit x3d preset tiny" in message
    assert "missing blocks." in message and "(and " in message

    # Same keys, another width: the shapes are named.
    wide = build_model("x3d", "tiny", CLASSES, crop_size=64).state_dict()
    wide["blocks.0.conv.conv_t.weight"] = torch.zeros(16, 3, 1, 3, 3)
    torch.save(wide, tmp_path / "wide.pt")
    with pytest.raises(PretrainedError, match=r"shape \(checkpoint vs model\) blocks\.0\.conv\.conv_t\.weight \[16, 3, 1, 3, 3\] vs \[8, 3, 1, 3, 3\]"):
        load_pretrained(build_model("x3d", "tiny", CLASSES), read_checkpoint(tmp_path / "wide.pt"), "x3d preset tiny")

    for bad, why in [(tmp_path / "nope.pyth", "no such file"), (tmp_path / "c2d.pyth", "does not fit")]:
        assert main(["train", "--data", str(dataset), "--pretrained", str(bad), "--epochs", "1", "--out", str(tmp_path / "r")]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and why in err and "Traceback" not in err and err.count("\n") == 1
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(PretrainedError, match="cannot read it as a checkpoint"):
        read_checkpoint(tmp_path / "junk.pt")
    assert main(["train", "--data", str(dataset), "--freeze-backbone", "--epochs", "1", "--out", str(tmp_path / "r")]) == 2
    assert "needs --pretrained" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_backbone_lr_mult_puts_the_backbone_in_groups_of_its_own():
    model = build_model("x3d", "tiny", CLASSES)
    groups = param_groups(model, 0.05, lr=1e-3, backbone_lr_mult=0.1)
    head = {id(p) for n, p in model.named_parameters() if n.startswith("blocks.5.proj.")}
    for g in groups:
        is_head = all(id(p) in head for p in g["params"])
        assert g.get("lr", 1e-3) == pytest.approx(1e-3 if is_head else 1e-4)
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    # Without a multiplier: the two groups as before, every lr the optimizer's.
    plain = param_groups(model, 0.05)
    assert len(plain) == 2 and all("lr" not in g for g in plain)
