"""X3D: PyTorchVideo's architecture, sizes and parameter names."""

import json

import pytest
import torch
from torch import nn

from videotrain.models import MODEL_REGISTRY, Swish, build_from_config, build_model, create_x3d, get_preset, model_kwargs
from videotrain.models.profile import count_macs, count_params
from videotrain.models.registry import UnknownModelError
from videotrain.models.x3d import round_repeats, round_width

# PyTorchVideo's published sizes (model zoo) and the MACs its create_x3d gives.
ZOO = {
    "xs": (3_794_274, 0.605e9, (4, 160)),
    "s": (3_794_274, 1.963e9, (13, 160)),
    "m": (3_794_274, 4.732e9, (16, 224)),
    "l": (6_153_384, 18.37e9, (16, 312)),
}


@pytest.mark.parametrize("preset", sorted(ZOO))
def test_kinetics_presets_match_pytorchvideo_size(preset):
    params, macs, (frames, crop) = ZOO[preset]
    model = build_model("x3d", preset, 400)
    p = get_preset("x3d", preset)
    assert (p.frames, p.crop_size) == (frames, crop)
    assert count_params(model) == params
    assert count_macs(model, (3, frames, crop, crop)) == pytest.approx(macs, rel=1e-3)


def test_mac_counter_counts_a_known_conv_and_linear():
    net = nn.Sequential(nn.Conv3d(3, 4, (1, 3, 3), padding=(0, 1, 1), groups=1), nn.Flatten(), nn.Linear(4 * 2 * 5 * 5, 7))
    # conv: 4·2·5·5 outputs × 3·1·3·3 MACs each; linear: 200 × 7
    assert count_macs(net, (3, 2, 5, 5)) == 4 * 2 * 5 * 5 * 27 + 200 * 7


def test_rounding_helpers_match_pytorchvideo():
    assert round_width(12, 2.0) == 24
    assert round_width(24, 2.0) == 48
    assert round_width(12, 0.5) == 8  # floor at min_width
    assert round_width(54, 0.0625) == 8  # X3D-S stage-1 SE width
    assert round_width(432, 0.0625) == 32  # stage 4: 24 would be >10% under 27, so one divisor more
    assert round_repeats(5, 2.2) == 11
    assert round_repeats(3, 5.0) == 15


# Keys as they appear in PyTorchVideo's x3d_s checkpoint (hub "x3d_s").
PYTORCHVIDEO_KEYS = {
    "blocks.0.conv.conv_t.weight": (24, 3, 1, 3, 3),  # PyTorchVideo names the spatial conv conv_t
    "blocks.0.conv.conv_xy.weight": (24, 1, 5, 1, 1),  # and the depthwise temporal conv conv_xy
    "blocks.0.norm.running_var": (24,),
    "blocks.1.res_blocks.0.branch1_conv.weight": (24, 24, 1, 1, 1),
    "blocks.1.res_blocks.0.branch2.conv_a.weight": (54, 24, 1, 1, 1),
    "blocks.1.res_blocks.0.branch2.norm_a.weight": (54,),
    "blocks.1.res_blocks.0.branch2.conv_b.weight": (54, 1, 3, 3, 3),
    "blocks.1.res_blocks.0.branch2.norm_b.0.weight": (54,),
    "blocks.1.res_blocks.0.branch2.norm_b.1.block.0.weight": (8, 54, 1, 1, 1),
    "blocks.1.res_blocks.0.branch2.norm_b.1.block.2.bias": (54,),
    "blocks.1.res_blocks.0.branch2.conv_c.weight": (24, 54, 1, 1, 1),
    "blocks.1.res_blocks.0.branch2.norm_c.num_batches_tracked": (),
    "blocks.1.res_blocks.2.branch2.norm_b.1.block.0.weight": (8, 54, 1, 1, 1),
    "blocks.2.res_blocks.0.branch1_norm.weight": (48,),
    "blocks.4.res_blocks.6.branch2.conv_c.weight": (192, 432, 1, 1, 1),
    "blocks.5.pool.pre_conv.weight": (432, 192, 1, 1, 1),
    "blocks.5.pool.pre_norm.weight": (432,),
    "blocks.5.pool.post_conv.weight": (2048, 432, 1, 1, 1),
    "blocks.5.proj.weight": (400, 2048),
    "blocks.5.proj.bias": (400,),
}


def test_state_dict_names_and_shapes_follow_pytorchvideo():
    state = build_model("x3d", "s", 400).state_dict()
    for key, shape in PYTORCHVIDEO_KEYS.items():
        assert key in state, key
        assert tuple(state[key].shape) == shape, key
    # SE only on even-numbered blocks; odd blocks keep an Identity (no params).
    assert "blocks.1.res_blocks.1.branch2.norm_b.1.block.0.weight" not in state
    # No branch1_norm where dims agree (stage 1 only strides), no post_norm without bn_lin5_on.
    assert "blocks.1.res_blocks.0.branch1_norm.weight" not in state
    assert not any(k.startswith("blocks.5.pool.post_norm") for k in state)
    depths = [len({k.split(".")[3] for k in state if k.startswith(f"blocks.{i}.res_blocks.")}) for i in range(1, 5)]
    assert depths == [3, 5, 11, 7]  # round_repeats([1, 2, 5, 3], 2.2)


def test_a_state_dict_loads_strictly_across_builds():
    a, b = build_model("x3d", "xs", 10), build_model("x3d", "xs", 10)
    b.load_state_dict(a.state_dict(), strict=True)
    x = torch.randn(1, 3, 4, 160, 160)
    with torch.no_grad():
        assert torch.equal(a.eval()(x), b.eval()(x))


def test_default_head_is_softmax_and_registry_models_give_logits():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 8, 64, 64)
    softmax_model = create_x3d(**model_kwargs("x3d", "tiny", 5)).eval()
    with torch.no_grad():
        probs = softmax_model(x)
    assert probs.shape == (2, 5)
    assert torch.allclose(probs.sum(1), torch.ones(2), atol=1e-5)
    logits_model = build_model("x3d", "tiny", 5).eval()
    logits_model.load_state_dict(softmax_model.state_dict())
    with torch.no_grad():
        logits = logits_model(x)
    assert torch.allclose(logits.softmax(1), probs, atol=1e-6)
    assert not torch.allclose(logits.sum(1), torch.ones(2), atol=1e-3)


def test_swish_is_x_sigmoid_x_without_a_custom_autograd_function():
    x = torch.linspace(-6, 6, 101, requires_grad=True)
    y = Swish()(x)
    assert torch.allclose(y, x * torch.sigmoid(x))
    y.sum().backward()
    s = torch.sigmoid(x.detach())
    assert torch.allclose(x.grad, s + x.detach() * s * (1 - s), atol=1e-6)
    assert "Backward" in type(y.grad_fn).__name__ and "Swish" not in type(y.grad_fn).__name__


def test_tiny_preset_is_cpu_sized_and_trains_a_step():
    p = get_preset("x3d", "tiny")
    assert (p.frames, p.crop_size, p.short_side_size) == (8, 64, 72)
    model = build_model("x3d", "tiny", 8)
    assert count_params(model) < 500_000
    assert count_macs(model, (3, 8, 64, 64)) < 50e6
    x, y = torch.randn(4, 3, 8, 64, 64), torch.tensor([0, 1, 2, 3])
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_rebuild_from_json_config():
    kwargs = model_kwargs("x3d", "l", 7)
    config = json.loads(json.dumps({"arch": "x3d", "modelKwargs": kwargs}))  # tuples become lists
    rebuilt = build_from_config(config)
    assert count_params(rebuilt) == count_params(build_model("x3d", "l", 7))
    assert rebuilt.blocks[5].proj.out_features == 7


def test_unknown_arch_or_preset_names_the_choices():
    with pytest.raises(UnknownModelError, match="known: c2d_r50, mvit_v2_s, slowfast_r50, x3d"):
        get_preset("slowfast", "r50")
    with pytest.raises(UnknownModelError, match="tiny"):
        get_preset("x3d", "huge")
    assert set(MODEL_REGISTRY["x3d"].presets) == {"xs", "s", "m", "l", "tiny"}


def test_input_too_small_for_the_strides_is_rejected():
    with pytest.raises(ValueError, match="input_crop_size"):
        create_x3d(input_crop_size=16)
