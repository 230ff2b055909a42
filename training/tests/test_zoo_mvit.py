"""MViTv2-S: torchvision's sizes and parameter names, pooling attention, ONNX export."""

import pytest
import torch
from zoo_checks import assert_keys, assert_onnx_parity, trained_like

from videotrain.export import export_onnx
from videotrain.models import build_model, create_mvit_v2_s
from videotrain.models.mvit import MultiscaleAttention, StochasticDepth
from videotrain.models.profile import count_macs, count_params


@pytest.fixture(scope="module")
def v2s():
    return build_model("mvit_v2_s", "16x4", 400)


def test_size_matches_torchvision(v2s):
    # torchvision's MViT_V2_S_Weights meta: num_params 34537744, _ops 64.224
    # (GFLOPS counted as multiply-adds of conv, mm, addmm and bmm at 16×224²;
    # the attention products and relative-position einsums are bmm).
    params = count_params(v2s)
    macs = count_macs(v2s, (3, 16, 224, 224))
    print(f"MViTv2-S 16x4: {params} params, {macs / 1e9:.4f} GMACs at 16x224^2 (torchvision 64.224)")
    assert params == 34_537_744
    assert macs == pytest.approx(64.224e9, rel=5e-3)


# Names and shapes from torchvision.models.video.mvit_v2_s: widths 96/192/384/768,
# heads 1/2/4/8, head_dim 96; tables sized 2·max(q, kv)-1 from each block's
# input grid (8×56² after the patch embedding).
TORCHVISION_KEYS = {
    "conv_proj.weight": (96, 3, 3, 7, 7),
    "conv_proj.bias": (96,),
    "pos_encoding.class_token": (96,),
    "blocks.0.norm1.weight": (96,),
    "blocks.0.attn.qkv.weight": (288, 96),
    "blocks.0.attn.project.0.weight": (96, 96),
    "blocks.0.attn.pool_q.pool.weight": (96, 1, 3, 3, 3),
    "blocks.0.attn.pool_k.norm_act.0.weight": (96,),
    "blocks.0.attn.pool_v.norm_act.0.bias": (96,),
    "blocks.0.attn.rel_pos_h": (111, 96),
    "blocks.0.attn.rel_pos_w": (111, 96),
    "blocks.0.attn.rel_pos_t": (15, 96),
    "blocks.0.mlp.0.weight": (384, 96),
    "blocks.0.mlp.3.weight": (96, 384),
    "blocks.1.attn.qkv.weight": (576, 96),
    "blocks.1.attn.rel_pos_h": (55, 96),
    "blocks.1.project.weight": (192, 96),
    "blocks.1.norm2.weight": (192,),
    "blocks.1.mlp.0.weight": (768, 192),
    "blocks.3.attn.rel_pos_h": (27, 96),
    "blocks.14.project.weight": (768, 384),
    "blocks.14.attn.rel_pos_w": (27, 96),
    "blocks.15.attn.rel_pos_h": (13, 96),
    "blocks.15.mlp.3.bias": (768,),
    "norm.weight": (768,),
    "head.1.weight": (400, 768),
    "head.1.bias": (400,),
}


def test_state_dict_follows_torchvision(v2s):
    state = v2s.state_dict()
    assert_keys(state, TORCHVISION_KEYS)
    assert len({k.split(".")[1] for k in state if k.startswith("blocks.")}) == 16
    # Width changes only in each stage's first block; MViTv2 has no absolute positions;
    # the relative-position lookups are derived, not stored.
    assert {k.split(".")[1] for k in state if k.startswith("blocks.") and ".project.weight" in k and "attn" not in k} == {"1", "3", "14"}
    assert not any("spatial_pos" in k or "temporal_pos" in k or "rel_index" in k for k in state)
    create_mvit_v2_s().load_state_dict(state, strict=True)


def test_decomposed_relative_positions_match_the_definition():
    # MViTv2 eq. 4: bias(i, j) = q_i · (R_t[t(i), t(j)] + R_h[h(i), h(j)] + R_w[w(i), w(j)]),
    # here for pooled queries (2×4×4) against pooled keys (2×2×2).
    torch.manual_seed(0)
    attn = MultiscaleAttention((2, 8, 8), 8, 8, 2, (3, 3, 3), (3, 3, 3), (1, 2, 2), (1, 4, 4))
    head_dim = 4
    q = torch.randn(1, 2, 1 + 2 * 4 * 4, head_dim)
    bias = attn._rel_pos(q)
    qt, qh, qw = attn.q_grid
    assert bias.shape == (1, 2, 32, 8)
    for i in range(qt * qh * qw):
        ti, hi, wi = i // (qh * qw), i // qw % qh, i % qw
        for j in range(8):
            tj, hj, wj = j // 4, j // 2 % 2, j % 2
            r = (attn.rel_pos_t[attn.rel_index_t[ti, tj]] + attn.rel_pos_h[attn.rel_index_h[hi, hj]]
                 + attn.rel_pos_w[attn.rel_index_w[wi, wj]])
            want = q[0, :, 1 + i] @ r
            torch.testing.assert_close(bias[0, :, i, j], want, rtol=1e-5, atol=1e-6)
    # Keys sit on a 2× coarser grid, so key distances count double: row = i - 2·j + 2.
    assert attn.rel_index_h.tolist() == [[2, 0], [3, 1], [4, 2], [5, 3]]


def test_stochastic_depth_drops_whole_samples_in_training_only():
    torch.manual_seed(0)
    drop = StochasticDepth(0.5)
    x = torch.ones(64, 5, 3)
    y = drop(x)
    per_sample = y.flatten(1)
    assert set(per_sample.unique().tolist()) == {0.0, 2.0}
    assert (per_sample == per_sample[:, :1]).all()
    assert torch.equal(drop.eval()(x), x)


def test_input_the_strides_do_not_divide_is_rejected():
    with pytest.raises(ValueError, match="does not divide evenly"):
        create_mvit_v2_s(temporal_size=8, spatial_size=72)


def test_onnx_export_matches_onnxruntime(tmp_path):
    # Full MViTv2-S depth and width at a reduced input (8 frames, 64²: a 4×16²
    # token grid, keys and values pooled to 2²).
    torch.manual_seed(0)
    model = trained_like(create_mvit_v2_s(temporal_size=8, spatial_size=64, num_classes=10))
    info = assert_onnx_parity(model, 8, 64, tmp_path / "mvit.onnx", "MViTv2-S")
    # The attention softmaxes stay inside; the output is logits (export checks that).
    assert info["ops"]["Softmax"] == 16
    assert info["ops"]["Einsum"] == 48 and info["ops"]["LayerNormalization"] == 1 + 16 * 5


def test_both_exporters_handle_the_class_token_updates(tmp_path):
    # The dynamo exporter emits opset 18 and is converted down to 17, which has
    # no adapter for Pad: the class-token-sparing additions are slices and concats.
    torch.manual_seed(0)
    model = trained_like(build_model("mvit_v2_s", "tiny", 5))
    for exporter in ("torchscript", "dynamo"):
        info = export_onnx(model, {"frames": 8, "cropSize": 64}, tmp_path / f"{exporter}.onnx", exporter=exporter)
        print(f"MViTv2 tiny, {exporter}: max abs logit diff {info['maxAbsDiff']:.3g}")
        assert info["opset"] == 17 and info["maxAbsDiff"] < 1e-4 and "Pad" not in info["ops"]
