"""The training loop's parts on small tensors: accumulation, mixed precision, activation
checkpointing, multi-view scoring, confusion matrix, TensorBoard, TorchScript, torchrun env."""

import copy
import warnings

import pytest
import torch
from torch import nn

from videotrain import distributed
from videotrain.checkpointing import CheckpointingError, checkpoint_blocks
from videotrain.evaluation import UniformCrops, VideoScores, multiview_transform
from videotrain.export import export_torchscript
from videotrain.models import build_model, get_preset
from videotrain.models.registry import MODEL_REGISTRY
from videotrain.precision import PrecisionError, grad_scaler, resolve_amp
from videotrain.tblog import ScalarLog
from videotrain.train import TrainOptions, input_spec_for, train_one_epoch
from videotrain.transforms import CenterCrop, eval_transform

torch.set_num_threads(1)
CPU = torch.device("cpu")


def _batches(x: torch.Tensor, y: torch.Tensor, sizes: list[int]) -> list[dict]:
    out, i = [], 0
    for n in sizes:
        out.append({"video": x[i : i + n], "label": y[i : i + n]})
        i += n
    return out


def _run_epoch(model, batches, accum_steps, dtype=None, scaler=None, lr=0.1):
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)
    opts = TrainOptions(out="unused", accum_steps=accum_steps, grad_clip=0.0, progress=False)
    stats = train_one_epoch(model, batches, opt, sched, scaler, opts, CPU, dtype, distributed.Dist(), ScalarLog(None), 1, 1)
    return stats, sched.last_epoch


def _mlp() -> nn.Module:
    # No BatchNorm: then a step over two batches of 4 equals one over a batch of 8.
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 16), nn.Tanh(), nn.Linear(16, 3))


def test_accumulation_steps_like_one_big_batch_with_a_short_last_group():
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(12, 3, 2, 2, generator=g), torch.randint(0, 3, (12,), generator=g)
    a, b = _mlp(), _mlp()
    # 3 batches of 4 with 2 per step: steps over [b0, b1] and [b2] alone (the epoch's last, short group).
    stats_a, steps_a = _run_epoch(a, _batches(x, y, [4, 4, 4]), accum_steps=2)
    stats_b, steps_b = _run_epoch(b, _batches(x, y, [8, 4]), accum_steps=1)
    assert steps_a == steps_b == 2
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-6)
    assert stats_a["train.loss"] == pytest.approx(stats_b["train.loss"], abs=1e-6)
    # Without accumulation the same batches take three (different) steps.
    c = _mlp()
    assert _run_epoch(c, _batches(x, y, [4, 4, 4]), accum_steps=1)[1] == 3
    assert not torch.allclose(next(c.parameters()), next(a.parameters()))


def test_amp_choices_by_device():
    assert resolve_amp("auto", CPU) is None  # CPU numerics stay float32 unless asked
    assert resolve_amp("off", CPU) is None
    assert resolve_amp("bf16", CPU) is torch.bfloat16
    assert resolve_amp("fp16", CPU) is torch.float16
    assert grad_scaler(CPU, torch.float16) is not None
    assert grad_scaler(CPU, torch.bfloat16) is None and grad_scaler(CPU, None) is None
    with pytest.raises(PrecisionError, match="--amp must be one of"):
        resolve_amp("fp8", CPU)


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_train_step_runs_under_cpu_autocast(amp):
    model = build_model("x3d", "tiny", 4)
    seen: set[torch.dtype] = set()
    conv = next(m for m in model.modules() if isinstance(m, nn.Conv3d))
    conv.register_forward_hook(lambda m, i, o: seen.add(o.dtype))
    before = copy.deepcopy(model.state_dict())
    g = torch.Generator().manual_seed(0)
    batches = _batches(torch.randn(4, 3, 8, 64, 64, generator=g), torch.tensor([0, 1, 2, 3]), [2, 2])
    dtype = resolve_amp(amp, CPU)
    scaler = grad_scaler(CPU, dtype)
    stats, steps = _run_epoch(model, batches, accum_steps=2, dtype=dtype, scaler=scaler, lr=1e-3)
    assert seen == {dtype} and steps == 1
    assert torch.isfinite(torch.tensor(stats["train.loss"]))
    changed = [k for k, v in model.state_dict().items() if v.is_floating_point() and not torch.equal(v, before[k])]
    assert "blocks.5.proj.weight" in changed  # the step happened (fp16: the scaler did not skip it)
    if scaler is not None:
        assert scaler.get_scale() > 0 and scaler.state_dict()["_growth_tracker"] == 1


@pytest.mark.parametrize("arch", sorted(MODEL_REGISTRY))
def test_activation_checkpointing_same_gradients_and_statistics_less_memory(arch):
    torch.manual_seed(0)
    plain = build_model(arch, "tiny", 4).train()
    ckpt = copy.deepcopy(plain)
    assert checkpoint_blocks(ckpt) == len(ckpt.blocks)
    assert list(ckpt.state_dict()) == list(plain.state_dict())
    p = get_preset(arch, "tiny")
    x, y = torch.randn(4, 3, p.frames, p.crop_size, p.crop_size), torch.tensor([0, 1, 2, 3])

    def saved_bytes_and_backward(model) -> int:
        total = 0

        def pack(t):
            nonlocal total
            total += t.numel() * t.element_size()
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            torch.manual_seed(1)  # dropout, stochastic depth
            loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        return total

    full, checkpointed = saved_bytes_and_backward(plain), saved_bytes_and_backward(ckpt)
    assert checkpointed < full / 4, (checkpointed, full)
    for (name, p), q in zip(plain.named_parameters(), ckpt.parameters()):
        torch.testing.assert_close(q.grad, p.grad, rtol=0, atol=1e-7, msg=name)
    # BatchNorm counted each batch once, although the blocks ran forward twice.
    for (name, a), b in zip(plain.named_buffers(), ckpt.buffers()):
        assert torch.equal(a, b), name
    with torch.no_grad():  # evaluation goes straight through
        torch.testing.assert_close(ckpt.eval()(x), plain.eval()(x))


def test_checkpointing_needs_blocks():
    with pytest.raises(CheckpointingError, match="no `blocks`"):
        checkpoint_blocks(nn.Linear(2, 2))


def test_uniform_crops_left_centre_right_and_top_centre_bottom():
    wide = torch.arange(10, dtype=torch.float32).repeat(1, 1, 4, 1)  # (1, 1, 4, 10): the value is the column
    crops = UniformCrops(4, 3)(wide)
    assert crops.shape == (3, 1, 1, 4, 4)
    assert [int(c[0, 0, 0, 0]) for c in crops] == [0, 3, 6]  # left, centre ceil((10-4)/2), right
    tall = wide.transpose(-1, -2)  # (1, 1, 10, 4): the value is the row
    assert [int(c[0, 0, 0, 0]) for c in UniformCrops(4, 3)(tall)] == [0, 3, 6]
    assert torch.equal(UniformCrops(4, 1)(wide)[0], CenterCrop(4)(wide))
    with pytest.raises(ValueError, match="one of 1, 3"):
        UniformCrops(4, 2)


def test_single_crop_multiview_transform_is_the_serving_transform():
    spec = input_spec_for("x3d", "tiny")
    frames = torch.randint(0, 256, (3, 10, 90, 120), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(multiview_transform(spec, 1)(frames)[0], eval_transform(spec)(frames), rtol=0, atol=1e-6)
    assert multiview_transform(spec, 3)(frames).shape == (3, 3, 10, 64, 64)


def test_video_scores_average_views_and_count_a_confusion_matrix():
    # Two videos, 3 classes; video 0 (label 2) has two items of 2 views, video 1 (label 0) one.
    logits = torch.tensor(
        [
            [[0.0, 0.0, 5.0], [0.0, 9.0, 0.0]],
            [[0.0, 0.0, 5.0], [0.0, 0.0, 5.0]],
            [[0.0, 3.0, 0.0], [0.0, 3.0, 0.0]],
        ]
    )
    s = VideoScores(2, 3)
    s.add(logits, torch.tensor([2, 2, 0]), torch.tensor([0, 0, 1]))
    probs = logits.softmax(-1).double()
    torch.testing.assert_close(s.prob_sum[0] / s.views[0], probs[:2].reshape(4, 3).mean(0))
    summary = s.summary("test")
    assert summary["test.clips"] == 6 and summary["test.videos"] == 2
    # Video 0: three views say 2, one says 1 (with more confidence): the mean says 2. Video 1: says 1, is 0.
    assert summary["test.top1"] == 0.5 and summary["test.top5"] == 1.0
    assert s.confusion() == [[0, 1, 0], [0, 0, 0], [0, 0, 1]]
    flat = nn.functional.cross_entropy(logits.reshape(6, 3), torch.tensor([2, 2, 2, 2, 0, 0]))
    assert summary["test.loss"] == pytest.approx(flat.item())


def test_tensorboard_scalars_read_back(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    log = ScalarLog(tmp_path / "tb")
    log.scalars({"val.top1": 0.5, "train.loss": 2.0}, 1)
    log.scalars({"val.top1": 0.75}, 2)
    log.close()
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    assert [(e.step, e.value) for e in events.Scalars("val/top1")] == [(1, 0.5), (2, 0.75)]
    assert ScalarLog(None).writer is None  # other ranks: nothing written


def test_torchscript_export_loads_and_matches_eager(tmp_path):
    model = build_model("x3d", "tiny", 5)
    info = export_torchscript(model, input_spec_for("x3d", "tiny"), tmp_path / "m.ts.pt")
    assert info["maxAbsDiff"] <= 1e-5 and info["bytes"] == (tmp_path / "m.ts.pt").stat().st_size
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit, still what TorchScript users load with
        loaded = torch.jit.load(str(tmp_path / "m.ts.pt"))
    x = torch.randn(1, 3, 8, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model.eval()(x))
    assert [p.name for p in tmp_path.iterdir()] == ["m.ts.pt"]  # no temporary left behind


def test_torchrun_environment(monkeypatch):
    for k in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(k, raising=False)
    assert distributed.from_env() == distributed.Dist(1, 0, 0) and not distributed.Dist().enabled
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    d = distributed.from_env()
    assert d.enabled and not d.main and (d.local_rank, d.local_world) == (1, 2)
    # Evaluation shards cover every item exactly once.
    assert sorted(i for r in range(4) for i in distributed.shard(10, distributed.Dist(4, r, r))) == list(range(10))
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(distributed.DistributedError, match="not in"):
        distributed.from_env()
