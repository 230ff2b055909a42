"""`videotrain taylor`'s scores: |sum over positions of activation x gradient| per channel, averaged over clips,
for conv/gemm outputs of an imported ONNX graph; a dead channel scores 0; bad inputs are one error event."""

import json

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper
from torch.nn import functional as F

from videotrain.cli import main
from videotrain.engine.onnx_import import OnnxModule
from videotrain.engine.taylor import taylor_scores

torch.set_num_threads(1)


def _graph() -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 3, 1, 3, 3)).astype(np.float32)
    w[2] = 0  # a dead channel
    fc = rng.standard_normal((3, 4)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["video", "w"], ["c"], kernel_shape=[1, 3, 3], pads=[0, 1, 1, 0, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("GlobalAveragePool", ["r"], ["p"]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("Gemm", ["f", "fc"], ["logits"], transB=1),
    ]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("video", TensorProto.FLOAT, ["batch", 3, 2, 5, 5])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3])],
                              [numpy_helper.from_array(w, "w"), numpy_helper.from_array(fc, "fc")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_scores_are_mean_abs_activation_times_gradient_per_channel():
    model = _graph()
    g = torch.Generator().manual_seed(1)
    batches = [{"video": torch.randn(2, 3, 2, 5, 5, generator=g), "label": torch.tensor([0, 2])} for _ in range(3)]
    scores, clips = taylor_scores(OnnxModule(model), batches, batches=2)
    assert clips == 4 and set(scores) == {"c", "logits"}

    # The same by hand with plain autograd on the same two batches.
    module = OnnxModule(model).eval()
    want = torch.zeros(4)
    for b in batches[:2]:
        acts = {}
        module.observe = acts.__setitem__
        loss = F.cross_entropy(module(b["video"]), b["label"])
        (grad,) = torch.autograd.grad(loss, acts["c"])
        want += (acts["c"] * grad).sum((2, 3, 4)).abs().sum(0).detach()
    np.testing.assert_allclose(scores["c"], (want / 4).numpy(), rtol=1e-5, atol=1e-9)
    assert scores["c"][2] == 0 and min(scores["c"][i] for i in (0, 1, 3)) > 0
    assert len(scores["logits"]) == 3


def test_bad_inputs_are_one_error_event(tmp_path):
    events = tmp_path / "events.jsonl"
    rc = main(["taylor", "--model", str(tmp_path / "missing.onnx"), "--manifest", str(tmp_path / "m.json"), "--data", str(tmp_path),
               "--out", str(tmp_path / "s.json"), "--events", str(events), "--quiet"])
    assert rc == 2
    (event,) = [json.loads(line) for line in events.read_text().splitlines()]
    assert (event["event"], event["kind"]) == ("error", "input")
    assert "m.json" in event["message"] or "missing.onnx" in event["message"]
