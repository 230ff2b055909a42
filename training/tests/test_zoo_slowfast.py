"""SlowFast-R50: PyTorchVideo's sizes and names, one-input ONNX export."""

import onnx
import pytest
import torch
from torch import nn
from zoo_checks import assert_keys, assert_onnx_parity, trained_like

from videotrain.models import build_model, create_slowfast
from videotrain.models.profile import count_macs, count_params


@pytest.fixture(scope="module")
def r50():
    return build_model("slowfast_r50", "8x8", 400)


def test_size_matches_pytorchvideo_zoo(r50):
    # Zoo: 34.57M params, 65.71 GFLOPs per view. The zoo's views are 256²
    # crops (3 crops × 10 clips), and its number is plain multiply-adds of
    # convs and linears (fvcore without BatchNorm), as in the SlowFast paper.
    params = count_params(r50)
    macs_256 = count_macs(r50, (3, 32, 256, 256))
    print(f"SlowFast-R50 8x8: {params} params, {macs_256 / 1e9:.4f} GMACs at 32x256^2 (zoo 65.71)")
    assert params == 34_566_488
    assert macs_256 == pytest.approx(65.71e9, rel=5e-3)
    # What the exported model (trained at 224²) costs per clip.
    assert count_macs(r50, (3, 32, 224, 224)) == pytest.approx(50.31e9, rel=1e-3)


# Names and shapes from pytorchvideo.models.slowfast.create_slowfast's R50
# defaults: slow stem 64, fast 8 (β = 1/8), lateral 7×1×1 conv widening the
# fast features 2× into the slow pathway (slow res2 input 64 + 16 = 80).
PYTORCHVIDEO_KEYS = {
    "blocks.0.multipathway_blocks.0.conv.weight": (64, 3, 1, 7, 7),
    "blocks.0.multipathway_blocks.0.norm.running_mean": (64,),
    "blocks.0.multipathway_blocks.1.conv.weight": (8, 3, 5, 7, 7),
    "blocks.0.multipathway_fusion.conv_fast_to_slow.weight": (16, 8, 7, 1, 1),
    "blocks.0.multipathway_fusion.norm.weight": (16,),
    "blocks.1.multipathway_blocks.0.res_blocks.0.branch1_conv.weight": (256, 80, 1, 1, 1),
    "blocks.1.multipathway_blocks.0.res_blocks.0.branch1_norm.weight": (256,),
    "blocks.1.multipathway_blocks.0.res_blocks.0.branch2.conv_a.weight": (64, 80, 1, 1, 1),
    "blocks.1.multipathway_blocks.0.res_blocks.0.branch2.conv_b.weight": (64, 64, 1, 3, 3),
    "blocks.1.multipathway_blocks.0.res_blocks.0.branch2.conv_c.weight": (256, 64, 1, 1, 1),
    "blocks.1.multipathway_blocks.1.res_blocks.0.branch2.conv_a.weight": (8, 8, 3, 1, 1),
    "blocks.1.multipathway_blocks.1.res_blocks.0.branch1_conv.weight": (32, 8, 1, 1, 1),
    "blocks.1.multipathway_fusion.conv_fast_to_slow.weight": (64, 32, 7, 1, 1),
    "blocks.2.multipathway_blocks.0.res_blocks.0.branch1_conv.weight": (512, 320, 1, 1, 1),
    "blocks.3.multipathway_blocks.0.res_blocks.0.branch2.conv_a.weight": (256, 640, 3, 1, 1),
    "blocks.3.multipathway_fusion.conv_fast_to_slow.weight": (256, 128, 7, 1, 1),
    "blocks.4.multipathway_blocks.0.res_blocks.2.branch2.conv_c.weight": (2048, 512, 1, 1, 1),
    "blocks.4.multipathway_blocks.1.res_blocks.2.branch2.norm_c.num_batches_tracked": (),
    "blocks.6.proj.weight": (400, 2304),
    "blocks.6.proj.bias": (400,),
}


def test_state_dict_follows_pytorchvideo(r50):
    state = r50.state_dict()
    assert_keys(state, PYTORCHVIDEO_KEYS)
    # No lateral after res5, no parameters in the pathway pool, and the
    # slow-frame index is not part of the checkpoint.
    assert not any(k.startswith(("blocks.4.multipathway_fusion", "blocks.5.")) for k in state)
    assert "slow_index" not in state
    for block, depth in zip(range(1, 5), (3, 4, 6, 3)):
        for pathway in (0, 1):
            prefix = f"blocks.{block}.multipathway_blocks.{pathway}.res_blocks."
            assert len({k[len(prefix):].split(".")[0] for k in state if k.startswith(prefix)}) == depth
    # The 8x8 preset is create_slowfast's defaults, i.e. PyTorchVideo's hub slowfast_r50.
    create_slowfast().load_state_dict(state, strict=True)


def test_slow_pathway_is_sampled_inside_the_model():
    model = build_model("slowfast_r50", "8x8", 5)
    # PackPathway's linspace(0, 31, 8) indices, truncated.
    assert model.slow_index.tolist() == [0, 4, 8, 13, 17, 22, 26, 31]
    tiny = trained_like(build_model("slowfast_r50", "tiny", 5))
    x = torch.randn(2, 3, 16, 64, 64)
    with torch.no_grad():
        want = tiny(x)
        # The same network fed the two pathways by hand, as PyTorchVideo's is.
        pathways = [x[:, :, [0, 5, 10, 15]], x]
        for block in tiny.blocks:
            pathways = block(pathways)
    assert torch.equal(want, pathways)
    with pytest.raises(ValueError, match="16 frames"):
        tiny(torch.randn(1, 3, 8, 64, 64))
    with pytest.raises(ValueError, match="multiple of alpha"):
        create_slowfast(input_clip_length=30)


def test_onnx_export_has_one_input_and_matches_onnxruntime(tmp_path):
    # Full R50 depth and width at a reduced input (8 frames, 64²): the whole
    # graph, at a size two CPU cores export in seconds.
    torch.manual_seed(0)
    model = trained_like(create_slowfast(input_clip_length=8, head_pool_kernel_sizes=((2, 2, 2), (8, 2, 2)), model_num_class=10))
    assert_onnx_parity(model, 8, 64, tmp_path / "slowfast.onnx", "SlowFast-R50")
    graph = onnx.load(str(tmp_path / "slowfast.onnx")).graph
    assert [i.name for i in graph.input] == ["video"]
    # The slow pathway: one Gather on the input along T.
    gathers = [n for n in graph.node if n.op_type == "Gather" and n.input[0] == "video"]
    assert len(gathers) == 1
    assert {a.name: onnx.helper.get_attribute_value(a) for a in gathers[0].attribute}.get("axis") == 2


def test_tiny_preset_trains_under_cpu_bf16_autocast():
    # The slow pathway's temporal kernels see 4 frames here; with 2 frames
    # torch's CPU bf16 conv3d backward gives NaN weight gradients.
    torch.manual_seed(0)
    model = build_model("slowfast_r50", "tiny", 8).train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(torch.randn(8, 3, 16, 64, 64))
    nn.functional.cross_entropy(logits.float(), torch.arange(8)).backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
