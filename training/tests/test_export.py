"""ONNX export: contract of the graph, parity with PyTorch, what each exporter does to BatchNorm."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch import nn

from videotrain.export import ExportError, export_onnx
from videotrain.models import build_model, create_x3d, model_kwargs

SPEC = {"frames": 8, "cropSize": 64}


@pytest.fixture(scope="module")
def model():
    """The tiny X3D with non-trivial BatchNorm statistics and affine parameters."""
    torch.manual_seed(0)
    m = build_model("x3d", "tiny", 6)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm3d):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.2, 0.2)
        m.train()
        for _ in range(3):
            m(torch.randn(4, 3, 8, 64, 64))
    return m.eval()


def _bn_modules(m: nn.Module) -> int:
    return sum(isinstance(x, nn.BatchNorm3d) for x in m.modules())


def _ort(path):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def test_torchscript_export_keeps_batchnorm_and_matches_pytorch(model, tmp_path):
    path = tmp_path / "teacher.onnx"
    info = export_onnx(model, SPEC, path, exporter="torchscript")
    assert info["maxAbsDiff"] < 1e-5
    assert info["opset"] == 17
    # The faithful graph: one BatchNormalization per BatchNorm3d, for the compiler to fold.
    assert info["batchNormalizationNodes"] == _bn_modules(model) == 38
    m = onnx.load(str(path))
    assert [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")] == [17]
    ops = {n.op_type for n in m.graph.node}
    assert "Identity" not in ops and "Softmax" not in ops
    assert {"Sigmoid", "Mul", "GlobalAveragePool"} <= ops  # Swish and SE as plain ops
    # Weights keep their PyTorchVideo names.
    names = {t.name for t in m.graph.initializer}
    assert {"blocks.0.conv.conv_t.weight", "blocks.0.norm.running_mean", "blocks.5.proj.bias"} <= names


def test_graph_contract_names_dynamic_batch_fixed_clip_single_file(model, tmp_path):
    path = tmp_path / "teacher.onnx"
    export_onnx(model, SPEC, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["teacher.onnx"]  # no external data, no temp files
    m = onnx.load(str(path))
    assert all(t.data_location != onnx.TensorProto.EXTERNAL for t in m.graph.initializer)
    (inp,), (out,) = m.graph.input, m.graph.output
    assert (inp.name, out.name) == ("video", "logits")
    dims = inp.type.tensor_type.shape.dim
    assert dims[0].dim_param and not dims[0].HasField("dim_value")
    assert [d.dim_value for d in dims[1:]] == [3, 8, 64, 64]
    # Batch 3 was never seen during export; the logits match PyTorch there too.
    x = torch.randn(3, 3, 8, 64, 64)
    (got,) = _ort(path).run(["logits"], {"video": x.numpy()})
    with torch.no_grad():
        want = model(x).numpy()
    assert got.shape == (3, 6)
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_dynamo_export_works_and_folds_batchnorm(model, tmp_path):
    path = tmp_path / "dynamo.onnx"
    info = export_onnx(model, SPEC, path, exporter="dynamo")
    assert info["maxAbsDiff"] < 1e-5
    m = onnx.load(str(path))
    assert [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")] == [17]
    onnx.checker.check_model(m, full_check=True)
    # onnxscript's optimizer fuses every BN into its Conv (see export.py).
    assert info["batchNormalizationNodes"] == 0
    assert info["ops"]["Conv"] == sum(isinstance(x, nn.Conv3d) for x in model.modules())


def test_a_softmax_head_is_refused(tmp_path):
    softmax_model = create_x3d(**model_kwargs("x3d", "tiny", 4)).eval()
    with pytest.raises(ExportError, match="logits"):
        export_onnx(softmax_model, SPEC, tmp_path / "p.onnx")
    assert not (tmp_path / "p.onnx").exists()


def test_unknown_exporter_is_an_error(model, tmp_path):
    with pytest.raises(ExportError, match="torchscript, dynamo"):
        export_onnx(model, SPEC, tmp_path / "x.onnx", exporter="tflite")
