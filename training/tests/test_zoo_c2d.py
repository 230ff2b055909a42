"""C2D-R50: PyTorchVideo's create_resnet with the hub c2d_r50 config."""

import pytest
import torch
from torch import nn
from zoo_checks import assert_keys, assert_onnx_parity, trained_like

from videotrain.models import build_model, create_c2d, create_resnet
from videotrain.models.profile import count_macs, count_params


@pytest.fixture(scope="module")
def r50():
    return build_model("c2d_r50", "8x8", 400)


def test_size_matches_pytorchvideo_zoo(r50):
    # Zoo: 24.33M params, 25.89 GFLOPs per view (8×256² crops). That entry
    # counts fvcore-style with the model in training mode: multiply-adds of
    # convs and linears plus 5 FLOPs per BatchNorm output element. Plain
    # multiply-adds are 25.46 G (1.6% less). The same convention reproduces
    # the zoo's X3D entries at their 182/182/256/356 test crops (0.91, 2.96,
    # 6.72, 26.64); its SlowFast entry leaves BatchNorm out (see test_zoo_slowfast).
    params = count_params(r50)
    macs = count_macs(r50, (3, 8, 256, 256))
    zoo_convention = count_macs(r50, (3, 8, 256, 256), batchnorm_flops=5)
    print(f"C2D-R50 8x8: {params} params, {macs / 1e9:.4f} GMACs at 8x256^2, "
          f"{zoo_convention / 1e9:.4f} G with BatchNorm at 5 per element (zoo 25.89)")
    assert params == 24_327_632
    assert zoo_convention == pytest.approx(25.89e9, rel=5e-3)
    assert macs == pytest.approx(25.463e9, rel=1e-3)
    assert count_macs(r50, (3, 8, 224, 224)) == pytest.approx(19.49e9, rel=1e-3)


# Names and shapes from pytorchvideo.models.resnet.create_resnet with the hub
# c2d_r50 settings: stem 1×7×7, every conv_a 1×1×1, a parameter-free 2×1×1
# max pool as blocks.2 after res2, so res3..res5 are blocks.3..5, head blocks.6.
PYTORCHVIDEO_KEYS = {
    "blocks.0.conv.weight": (64, 3, 1, 7, 7),
    "blocks.0.norm.running_var": (64,),
    "blocks.1.res_blocks.0.branch1_conv.weight": (256, 64, 1, 1, 1),
    "blocks.1.res_blocks.0.branch1_norm.weight": (256,),
    "blocks.1.res_blocks.0.branch2.conv_a.weight": (64, 64, 1, 1, 1),
    "blocks.1.res_blocks.2.branch2.conv_b.weight": (64, 64, 1, 3, 3),
    "blocks.1.res_blocks.2.branch2.norm_c.weight": (256,),
    "blocks.3.res_blocks.0.branch1_conv.weight": (512, 256, 1, 1, 1),
    "blocks.3.res_blocks.3.branch2.conv_a.weight": (128, 512, 1, 1, 1),
    "blocks.4.res_blocks.5.branch2.conv_c.weight": (1024, 256, 1, 1, 1),
    "blocks.5.res_blocks.0.branch2.conv_a.weight": (512, 1024, 1, 1, 1),
    "blocks.5.res_blocks.2.branch2.norm_b.num_batches_tracked": (),
    "blocks.6.proj.weight": (400, 2048),
    "blocks.6.proj.bias": (400,),
}


def test_state_dict_follows_pytorchvideo(r50):
    state = r50.state_dict()
    assert_keys(state, PYTORCHVIDEO_KEYS)
    assert not any(k.startswith("blocks.2.") for k in state)
    depths = [len({k.split(".")[3] for k in state if k.startswith(f"blocks.{i}.res_blocks.")}) for i in (1, 3, 4, 5)]
    assert depths == [3, 4, 6, 3]
    # Only the first block of a stage projects the shortcut.
    assert "blocks.3.res_blocks.1.branch1_conv.weight" not in state
    # C2D is 2D: no convolution spans time; only the pool after res2 halves it.
    convs = [m for m in r50.modules() if isinstance(m, nn.Conv3d)]
    assert convs and all(m.kernel_size[0] == 1 for m in convs)
    pool = r50.blocks[2]
    assert isinstance(pool, nn.MaxPool3d) and pool.kernel_size == pool.stride == (2, 1, 1)


def test_c2d_is_create_resnet_with_the_c2d_stem_and_pool():
    torch.manual_seed(0)
    a = create_c2d(model_depth=18, stem_dim_out=8, head_pool_kernel_size=(4, 2, 2))
    torch.manual_seed(0)
    b = create_resnet(
        model_depth=18, stem_dim_out=8, head_pool_kernel_size=(4, 2, 2), stem_conv_kernel_size=(1, 7, 7),
        stage1_pool_kernel_size=(2, 1, 1), stage_conv_a_kernel_size=((1, 1, 1),) * 4,
    )
    x = torch.randn(1, 3, 8, 64, 64)
    with torch.no_grad():
        assert torch.equal(trained_like(a)(x), trained_like(b)(x))
    # The default create_resnet is the Slow/I3D-style R50: temporal conv_a in res4/res5.
    slow = create_resnet()
    assert slow.blocks[3].res_blocks[0].branch2.conv_a.kernel_size == (3, 1, 1)
    with pytest.raises(ValueError, match="model_depth"):
        create_resnet(model_depth=34)


def test_onnx_export_matches_onnxruntime(tmp_path):
    # Full R50 at a reduced input (8 frames, 64²).
    torch.manual_seed(0)
    model = trained_like(create_c2d(head_pool_kernel_size=(4, 2, 2), model_num_class=10))
    info = assert_onnx_parity(model, 8, 64, tmp_path / "c2d.onnx", "C2D-R50")
    assert info["batchNormalizationNodes"] == sum(isinstance(m, nn.BatchNorm3d) for m in model.modules()) == 53
