"""ONNX -> PyTorch importer: the imported module computes what onnxruntime computes on the zoo's
exports, trains (gradients reach every weight, BN statistics move), and its weights go back into the graph."""

import numpy as np
import onnx
import pytest
import torch
from onnx import helper, numpy_helper
from torch import nn

from videotrain.engine.onnx_import import OnnxImportError, OnnxModule, load_onnx_module, onnxruntime_max_diff, write_onnx
from videotrain.export import export_onnx
from videotrain.models import build_model, get_preset

torch.set_num_threads(1)
CLASSES = 5


def _spec(arch):
    p = get_preset(arch, "tiny")
    return {"frames": p.frames, "cropSize": p.crop_size}


def _model(arch):
    """A tiny zoo model with non-trivial BatchNorm statistics (a few training-mode passes)."""
    torch.manual_seed(0)
    m = build_model(arch, "tiny", CLASSES)
    s = _spec(arch)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.modules.batchnorm._BatchNorm):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.2, 0.2)
        m.train()
        for _ in range(2):
            m(torch.randn(2, 3, s["frames"], s["cropSize"], s["cropSize"]))
    return m.eval()


def _inputs(arch, batches=(1, 3), seed=1):
    s = _spec(arch)
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(b, 3, s["frames"], s["cropSize"], s["cropSize"], generator=g) for b in batches]


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    out = tmp_path_factory.mktemp("exports")
    paths = {}
    for arch in ("x3d", "c2d_r50", "slowfast_r50", "mvit_v2_s"):
        paths[arch, "torchscript"] = out / f"{arch}.onnx"
        export_onnx(_model(arch), _spec(arch), paths[arch, "torchscript"])
    # The dynamo exporter's graph (BN folded; Shape/Range/Gather/ReduceMean/Squeeze) for X3D.
    paths["x3d", "dynamo"] = out / "x3d-dynamo.onnx"
    export_onnx(_model("x3d"), _spec("x3d"), paths["x3d", "dynamo"], exporter="dynamo")
    return paths


@pytest.mark.parametrize("arch,exporter", [("x3d", "torchscript"), ("c2d_r50", "torchscript"), ("slowfast_r50", "torchscript"),
                                           ("mvit_v2_s", "torchscript"), ("x3d", "dynamo")])
def test_imported_module_matches_onnxruntime(exports, arch, exporter):
    path = exports[arch, exporter]
    module, graph = load_onnx_module(path)
    diff = onnxruntime_max_diff(module, path, _inputs(arch))  # batch 1 and 3: the batch axis stays dynamic
    print(f"{arch} ({exporter}): {len(graph.graph.node)} nodes, max abs diff vs onnxruntime {diff:.2e}")
    assert diff < 1e-4
    if exporter == "torchscript":
        # Same trainable weights as the PyTorch model it was exported from.
        assert sum(p.numel() for p in module.parameters()) == sum(p.numel() for p in _model(arch).parameters())


def _loss(module, x, y):
    return nn.functional.cross_entropy(module(x), y)


@pytest.mark.parametrize("arch", ["x3d", "mvit_v2_s"])
def test_gradients_reach_every_weight_and_training_lowers_the_loss(exports, arch):
    module, _ = load_onnx_module(exports[arch, "torchscript"])
    (x,) = _inputs(arch, batches=(4,))
    y = torch.tensor([0, 1, 2, 3])
    before = {k: v.detach().clone() for k, v in module.state_dict().items()}
    module.train()
    loss = _loss(module, x, y)
    loss.backward()
    # The same weights get a gradient as in the PyTorch model (MViT's last block has some that do
    # not: only its class token reaches the head, and query pooling and relative positions skip it).
    torch_model = _model(arch).train()
    _loss(torch_model, x, y).backward()
    def reached(m):
        return sorted(p.numel() for p in m.parameters() if p.grad is not None and p.grad.abs().sum() > 0)
    assert reached(module) == reached(torch_model) and len(reached(module)) > 0.9 * len(list(module.parameters()))
    opt = torch.optim.Adam(module.parameters(), lr=1e-3)
    for _ in range(8):
        opt.zero_grad()
        _loss(module, x, y).backward()
        opt.step()
    with torch.no_grad():
        module.eval()
        after_eval = {k: v.detach().clone() for k, v in module.state_dict().items()}
        module(x)  # eval mode: BN statistics stay put
        assert all(torch.equal(after_eval[k], v) for k, v in module.state_dict().items())
        final = _loss(module.train(), x, y).item()
    print(f"{arch}: loss {loss.item():.4f} -> {final:.4f} after 8 Adam steps on a fixed batch (training mode)")
    assert final < loss.item()
    changed = [k for k, v in module.state_dict().items() if not torch.equal(before[k], v)]
    assert len([k for k, _ in module.named_parameters() if k in changed]) == len(reached(module))
    if arch == "x3d":  # BatchNormalization running statistics are updated in training mode
        stats = [k for k in module.initializer_names.values() if k.endswith("running_mean") or k.endswith("running_var")]
        assert stats and all(k in changed for k in stats)


def test_weights_written_back_round_trip(exports, tmp_path):
    src = exports["x3d", "torchscript"]
    module, graph = load_onnx_module(src)
    same = tmp_path / "same.onnx"
    write_onnx(module, graph, same)
    a, b = onnx.load(str(src)), onnx.load(str(same))
    assert [n.SerializeToString() for n in a.graph.node] == [n.SerializeToString() for n in b.graph.node]
    assert {t.name: numpy_helper.to_array(t).tobytes() for t in a.graph.initializer} == \
           {t.name: numpy_helper.to_array(t).tobytes() for t in b.graph.initializer}

    # Train a little, write back: onnxruntime on the new file computes the trained module, and so does a re-import.
    (x,) = _inputs("x3d", batches=(4,))
    opt = torch.optim.SGD(module.parameters(), lr=0.1)
    module.train()
    for _ in range(2):
        opt.zero_grad()
        _loss(module, x, torch.tensor([0, 1, 2, 3])).backward()
        opt.step()
    trained = tmp_path / "trained.onnx"
    write_onnx(module, graph, trained)
    onnx.checker.check_model(onnx.load(str(trained)), full_check=True)
    diff = onnxruntime_max_diff(module, trained, _inputs("x3d"))
    again, _ = load_onnx_module(trained)
    with torch.no_grad():
        reimport = max(float((again.eval()(v) - module.eval()(v)).abs().max()) for v in _inputs("x3d"))
        moved = float((module(x) - OnnxModule(graph).eval()(x)).abs().max())
    print(f"trained x3d written back: max abs diff vs onnxruntime {diff:.2e}, vs re-import {reimport:.2e}; "
          f"logits moved {moved:.3f} from the original")
    assert diff < 1e-4 and reimport < 1e-6 and moved > 1e-3


def _graph(op, **attrs):
    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 4])
    node = helper.make_node(op, ["x"], ["y"], name="the_node", **attrs)
    return helper.make_model(helper.make_graph([node], "g", [x], [y]), opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def test_unsupported_op_is_named_with_its_node():
    with pytest.raises(OnnxImportError, match=r"node 'the_node': op Hardmax is not supported"):
        OnnxModule(_graph("Hardmax"), "g.onnx")


def test_unreadable_and_missing_files_are_clear_errors(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07not a protobuf at all")
    with pytest.raises(OnnxImportError, match="bad.onnx: not a readable ONNX file"):
        load_onnx_module(bad)
    with pytest.raises(OnnxImportError, match="nope.onnx: file not found"):
        load_onnx_module(tmp_path / "nope.onnx")


def test_asymmetric_conv_padding_and_grouped_conv_match_onnxruntime(tmp_path):
    """Ops the zoo's exports do not exercise but a compiler's graph may: asymmetric pads, groups, Pad, Clip."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 2, 3, 3)).astype(np.float32), "w")
    b = numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "b")
    pads = numpy_helper.from_array(np.array([0, 0, 1, 0, 0, 0, 0, 2], dtype=np.int64), "pads")
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], group=2, pads=[0, 1, 1, 0], strides=[1, 2]),
        helper.make_node("Pad", ["c", "pads"], ["p"], mode="reflect"),
        helper.make_node("Clip", ["p"], ["y"]),
    ]
    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["n", 4, 6, 7])
    y = helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)
    model = helper.make_model(helper.make_graph(nodes, "g", [x], [y], [w, b, pads]), opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    path = tmp_path / "g.onnx"
    onnx.save(model, str(path))
    module, _ = load_onnx_module(path)
    assert onnxruntime_max_diff(module, path, [torch.randn(2, 4, 6, 7)]) < 1e-5
