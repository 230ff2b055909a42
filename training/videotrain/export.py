"""ONNX export of a trained model, with a parity check against onnxruntime.

The graph has one input "video" (N, C, T, H, W; only N is dynamic) and one
output "logits" (N, classes), opset 17, in a single file.

The compiler has its own BN-folding pass and should see what training
learned, so the default exporter keeps every BatchNorm as a
BatchNormalization node
(measured with torch 2.13, onnxscript 0.7.2):
- torchscript: its default (TrainingMode.EVAL) folds BN into Conv in its eval
  peephole; TrainingMode.PRESERVE on an eval-mode model keeps BN. Native
  opset 17, GlobalAveragePool, initializers named like the state_dict. Default.
- dynamo: its optimizer (onnxscript's fuse_batchnorm rewrite rule) fuses
  every BN into its Conv, and with optimize=False the graph is broken (see
  _export_dynamo), so this path emits a BN-folded graph. It starts at opset
  18 (converted down here) and pools with ReduceMean.
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
import warnings
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

EXPORTERS = ("torchscript", "dynamo")
DEFAULT_EXPORTER = "torchscript"
PARITY_TOLERANCE = 1e-4
INPUT_NAME = "video"
OUTPUT_NAME = "logits"


class ExportError(RuntimeError):
    pass


def _export_torchscript(model: nn.Module, example: torch.Tensor, path: Path, opset: int) -> None:
    # TrainingMode.PRESERVE with the model in eval mode exports inference-mode
    # BatchNormalization nodes; the default (EVAL) runs the eval peephole that
    # folds every BN into its Conv.
    torch.onnx.export(
        model, (example,), str(path), dynamo=False, training=torch.onnx.TrainingMode.PRESERVE,
        input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], opset_version=opset,
        dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
    )
    proto = onnx.load(str(path))
    _materialize_shared_initializers(proto)
    onnx.save(proto, str(path))


def _materialize_shared_initializers(proto: onnx.ModelProto) -> None:
    """The TorchScript exporter deduplicates equal-valued initializers (common
    in a fresh model: BN weights of 1, biases of 0) and reaches the copies
    through Identity nodes named after the parameter. Give each parameter its
    own initializer again, so the graph is Conv/BN on named weights only."""
    graph = proto.graph
    inits = {t.name: t for t in graph.initializer}
    keep = []
    for node in graph.node:
        if node.op_type == "Identity" and node.input[0] in inits and node.output[0] not in inits:
            copy = onnx.TensorProto()
            copy.CopyFrom(inits[node.input[0]])
            copy.name = node.output[0]
            graph.initializer.append(copy)
            inits[copy.name] = copy
        else:
            keep.append(node)
    del graph.node[:]
    graph.node.extend(keep)


def _export_dynamo(model: nn.Module, example: torch.Tensor, path: Path, opset: int) -> None:
    from onnx import version_converter

    batch = torch.export.Dim("batch", max=4096)
    # Opset 18 is the lowest the dynamo exporter implements; converted below.
    # Its optimizer must stay on: without it the graph gives bias-free Conv3d
    # a zero bias of shape (C_out, 2), which onnxruntime rejects.
    program = torch.onnx.export(
        model, (example,), dynamo=True, optimize=True, opset_version=max(opset, 18),
        input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
        dynamic_shapes={"x": {0: batch}}, report=False, verbose=False,
    )
    proto = program.model_proto
    if opset < 18:
        proto = version_converter.convert_version(proto, opset)
        # onnx's 18→17 adapter moves ReduceMean's axes back into an attribute
        # but leaves noop_with_empty_axes, which opset 17 does not know; its
        # value here is the pre-18 behaviour (0), so dropping it is exact.
        for node in proto.graph.node:
            if node.op_type.startswith("Reduce"):
                attrs = [a for a in node.attribute if not (a.name == "noop_with_empty_axes" and a.i == 0)]
                del node.attribute[:]
                node.attribute.extend(attrs)
    onnx.save(proto, str(path))


def _export(model: nn.Module, example: torch.Tensor, path: Path, exporter: str, opset: int) -> None:
    # Both exporters print pages of progress and deprecation notes; keep them
    # for the error message only.
    log = io.StringIO()
    torch_logger = logging.getLogger("torch")
    level = torch_logger.level
    try:
        torch_logger.setLevel(logging.ERROR)
        with warnings.catch_warnings(), redirect_stdout(log), redirect_stderr(log):
            warnings.simplefilter("ignore")
            if exporter == "torchscript":
                _export_torchscript(model, example, path, opset)
            else:
                _export_dynamo(model, example, path, opset)
    except Exception as e:  # the exporters raise many types; one message for the user
        raise ExportError(f"{path}: ONNX export with the {exporter} exporter failed: {e}\n{log.getvalue()[-2000:]}") from e
    finally:
        torch_logger.setLevel(level)


# Ops that carry class scores to the output without changing what they are:
# a Softmax reached from the output through these makes the output probabilities.
# (A Softmax elsewhere, such as MViT's attention, is not the head's.)
_SCORE_PRESERVING = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Identity",
                     "GlobalAveragePool", "AveragePool", "ReduceMean"}


def _outputs_softmax(proto: onnx.ModelProto) -> bool:
    producer = {out: node for node in proto.graph.node for out in node.output}
    name = proto.graph.output[0].name
    while name in producer:
        node = producer[name]
        if node.op_type == "Softmax":
            return True
        if node.op_type not in _SCORE_PRESERVING:
            return False
        name = node.input[0]
    return False


def graph_summary(path: str | Path) -> dict[str, Any]:
    m = onnx.load(str(path))
    ops: dict[str, int] = {}
    for node in m.graph.node:
        ops[node.op_type] = ops.get(node.op_type, 0) + 1
    opset = next((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), None)
    return {"opset": opset, "nodes": len(m.graph.node), "ops": dict(sorted(ops.items()))}


def export_onnx(
    model: nn.Module,
    input_spec: dict,
    path: str | Path,
    *,
    exporter: str = DEFAULT_EXPORTER,
    opset: int = 17,
    seed: int = 0,
) -> dict[str, Any]:
    """Exports `model` (eval mode, CPU, float32) and checks it against onnxruntime.

    Returns {"exporter", "opset", "maxAbsDiff", "batchNormalizationNodes",
    "ops", ...}; raises ExportError if the export fails, the graph does not
    end in logits, or the outputs differ by more than PARITY_TOLERANCE.
    """
    if exporter not in EXPORTERS:
        raise ExportError(f"unknown exporter {exporter!r}; choose one of {', '.join(EXPORTERS)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.to("cpu", torch.float32).eval()
    shape = (3, int(input_spec["frames"]), int(input_spec["cropSize"]), int(input_spec["cropSize"]))
    gen = torch.Generator().manual_seed(seed)
    # Batch 2 in the parity check exercises the dynamic batch axis.
    example = torch.randn((2, *shape), generator=gen)

    # Write next to the target and rename, so a failed export never leaves a
    # half-written teacher.onnx behind.
    fd, tmp_name = tempfile.mkstemp(suffix=".onnx", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        _export(model, example, tmp, exporter, opset)
        onnx_model = onnx.load(str(tmp))
        onnx.checker.check_model(onnx_model, full_check=True)
        summary = graph_summary(tmp)
        if summary["opset"] != opset:
            raise ExportError(f"{path}: exporter produced opset {summary['opset']}, asked for {opset}")
        if _outputs_softmax(onnx_model):
            # PyTorchVideo's default head applies softmax before its final
            # average pool; the manifest promises logits.
            raise ExportError(f"{path}: the graph ends in Softmax; the head must output logits (head_activation=None)")

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        session = ort.InferenceSession(str(tmp), opts, providers=["CPUExecutionProvider"])
        (got,) = session.run([OUTPUT_NAME], {INPUT_NAME: example.numpy()})
        with torch.no_grad():
            want = model(example).numpy()
        if got.shape != want.shape:
            raise ExportError(f"{path}: onnxruntime output shape {got.shape} != PyTorch {want.shape}")
        max_diff = float(np.max(np.abs(got - want)))
        if not max_diff <= PARITY_TOLERANCE:
            raise ExportError(
                f"{path}: onnxruntime logits differ from PyTorch by {max_diff:.3g} (> {PARITY_TOLERANCE:g})"
            )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return {
        "exporter": exporter,
        "opset": opset,
        "maxAbsDiff": max_diff,
        "batchNormalizationNodes": summary["ops"].get("BatchNormalization", 0),
        "nodes": summary["nodes"],
        "ops": summary["ops"],
        "bytes": path.stat().st_size,
    }


def export_torchscript(model: nn.Module, input_spec: dict, path: str | Path, *, seed: int = 0) -> dict[str, Any]:
    """Traces `model` (eval, CPU, float32) to a TorchScript file (torch.jit.load
    reads it without this package), loads it back and checks it against eager
    PyTorch on a batch size other than the traced one. Returns {"maxAbsDiff", "bytes"}."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.to("cpu", torch.float32).eval()
    shape = (3, int(input_spec["frames"]), int(input_spec["cropSize"]), int(input_spec["cropSize"]))
    gen = torch.Generator().manual_seed(seed)
    example, check = torch.randn((2, *shape), generator=gen), torch.randn((3, *shape), generator=gen)
    fd, tmp_name = tempfile.mkstemp(suffix=".pt", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            # torch.jit is deprecated in favour of torch.export, but it is what users of the seed's recipe load.
            warnings.simplefilter("ignore", DeprecationWarning)
            try:
                torch.jit.save(torch.jit.trace(model, (example,)), str(tmp))
                loaded = torch.jit.load(str(tmp), map_location="cpu")
            except Exception as e:
                raise ExportError(f"{path}: TorchScript export failed: {e}") from e
            got, want = loaded(check), model(check)
        max_diff = float((got - want).abs().max())
        if got.shape != want.shape or not max_diff <= PARITY_TOLERANCE:
            raise ExportError(f"{path}: TorchScript output {tuple(got.shape)} differs from eager PyTorch {tuple(want.shape)} by {max_diff:.3g}")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return {"maxAbsDiff": max_diff, "bytes": path.stat().st_size}
