"""ONNX -> PyTorch: a module that runs an ONNX graph's nodes in order.

How a graph the compiler pruned comes back for training. Float initializers
become nn.Parameters (trainable), a BatchNormalization's mean and variance
become buffers that training mode updates with the node's momentum (like
nn.BatchNorm), integer initializers and Constant nodes become fixed buffers.
Eager only: shape values (Shape, Range, ...) are computed on every call, so
any batch size works. After training, `write_onnx` puts the new weights back
into the same graph (node for node; the compiler sees its own graph again)
and checks it against onnxruntime.

Ops: what the zoo's exports (torchscript and dynamo, opset 17/18) and the
compiler's passes use; anything else raises OnnxImportError naming the op and
the node.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn
from torch.nn import functional as F


class OnnxImportError(ValueError):
    """A graph this importer cannot run (unsupported op, malformed node, unreadable file)."""


# Inputs that hold weights the optimizer trains, by op: (op, input index).
# Other float initializers (scalars of GELU, attention scales) stay fixed.
_WEIGHT_SLOTS = {("Conv", 1), ("Conv", 2), ("Gemm", 1), ("Gemm", 2), ("MatMul", 0), ("MatMul", 1),
                 ("BatchNormalization", 1), ("BatchNormalization", 2),
                 ("LayerNormalization", 1), ("LayerNormalization", 2)}
_BN_STATS = (3, 4)  # BatchNormalization's input_mean, input_var


def _attrs(node: onnx.NodeProto) -> dict[str, Any]:
    out = {}
    for a in node.attribute:
        if a.type == onnx.AttributeProto.TENSOR:
            out[a.name] = torch.from_numpy(numpy_helper.to_array(a.t).copy())
        else:
            out[a.name] = onnx.helper.get_attribute_value(a)
            if isinstance(out[a.name], bytes):
                out[a.name] = out[a.name].decode()
    return out


def _ints(t: torch.Tensor | None) -> list[int] | None:
    return None if t is None else [int(v) for v in t.reshape(-1).tolist()]


# ---------------------------------------------------------------- ops
# Each op: fn(inputs, attrs, training) -> tensor or tuple of tensors.
# `inputs` has None for omitted optional inputs.


def _conv(x, w, b=None, *, a):
    n = x.dim() - 2
    if a.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise OnnxImportError(f"auto_pad={a['auto_pad']} is not supported (export with explicit pads)")
    pads = a.get("pads", [0] * 2 * n)
    begin, end = pads[:n], pads[n:]
    if begin != end:  # asymmetric: pad explicitly (F.pad lists the last dim first)
        x = F.pad(x, [p for i in reversed(range(n)) for p in (begin[i], end[i])])
        begin = [0] * n
    conv = (F.conv1d, F.conv2d, F.conv3d)[n - 1]
    return conv(x, w, b, stride=a.get("strides", 1), padding=begin, dilation=a.get("dilations", 1), groups=a.get("group", 1))


def _pool(x, a, kind):
    n = x.dim() - 2
    kernel = a["kernel_shape"]
    pads = a.get("pads", [0] * 2 * n)
    if a.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise OnnxImportError(f"auto_pad={a['auto_pad']} is not supported")
    if a.get("dilations", [1] * n) != [1] * n:
        raise OnnxImportError("dilated pooling is not supported")
    begin, end = pads[:n], pads[n:]
    ceil = bool(a.get("ceil_mode", 0))
    strides = a.get("strides", [1] * n)
    if kind == "max":
        if begin != end:
            x = F.pad(x, [p for i in reversed(range(n)) for p in (begin[i], end[i])], value=-math.inf)
            begin = [0] * n
        fn = (F.max_pool1d, F.max_pool2d, F.max_pool3d)[n - 1]
        return fn(x, kernel, strides, begin, ceil_mode=ceil)
    include = bool(a.get("count_include_pad", 0))
    if begin != end:
        if not include:
            raise OnnxImportError("asymmetric AveragePool pads with count_include_pad=0 are not supported")
        x = F.pad(x, [p for i in reversed(range(n)) for p in (begin[i], end[i])])
        begin = [0] * n
    fn = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[n - 1]
    return fn(x, kernel, strides, begin, ceil_mode=ceil, count_include_pad=include)


def _batch_norm(x, scale, bias, mean, var, *, a, training):
    # ONNX momentum weighs the old statistics; torch's weighs the new batch.
    return F.batch_norm(x, mean, var, scale, bias, training=training, momentum=1.0 - a.get("momentum", 0.9),
                        eps=a.get("epsilon", 1e-5))


def _gemm(A, B, C=None, *, a):
    A = A.t() if a.get("transA", 0) else A
    B = B.t() if a.get("transB", 0) else B
    y = a.get("alpha", 1.0) * (A @ B)
    return y if C is None else y + a.get("beta", 1.0) * C


def _reshape(x, shape, *, a):
    dims = _ints(shape)
    if not a.get("allowzero", 0):
        dims = [x.shape[i] if d == 0 else d for i, d in enumerate(dims)]
    return x.reshape(dims)


def _axes(inputs, a, index=1) -> list[int] | None:
    """Axes from the attribute (before opset 13/18) or the optional input."""
    if "axes" in a:
        return list(a["axes"])
    return _ints(inputs[index]) if len(inputs) > index else None


def _reduce_mean(inputs, a):
    x = inputs[0]
    axes = _axes(inputs, a)
    if not axes:
        if a.get("noop_with_empty_axes", 0):
            return x
        axes = list(range(x.dim()))
    return x.mean(dim=axes, keepdim=bool(a.get("keepdims", 1)))


def _squeeze(inputs, a):
    axes = _axes(inputs, a)
    x = inputs[0]
    if axes is None:
        return x.squeeze()
    return x.squeeze([d % x.dim() for d in axes])


def _unsqueeze(inputs, a):
    x = inputs[0]
    axes = sorted(d % (x.dim() + len(_axes(inputs, a))) for d in _axes(inputs, a))
    for d in axes:
        x = x.unsqueeze(d)
    return x


def _gather(x, idx, *, a):
    axis = a.get("axis", 0) % x.dim()
    idx = torch.where(idx < 0, idx + x.shape[axis], idx)
    out = x.index_select(axis, idx.reshape(-1))
    return out.reshape((*x.shape[:axis], *idx.shape, *x.shape[axis + 1:]))


def _slice(x, starts, ends, axes=None, steps=None):
    starts, ends = _ints(starts), _ints(ends)
    axes = _ints(axes) if axes is not None else list(range(len(starts)))
    steps = _ints(steps) if steps is not None else [1] * len(starts)
    index: list[Any] = [slice(None)] * x.dim()
    for s, e, ax, st in zip(starts, ends, axes, steps):
        if st <= 0:
            raise OnnxImportError(f"Slice with step {st} is not supported")
        n = x.shape[ax]
        s = max(0, min(n, s + n if s < 0 else s))
        e = max(0, min(n, e + n if e < 0 else e))
        index[ax % x.dim()] = slice(s, e, st)
    return x[tuple(index)]


def _split(inputs, a, outputs):
    x = inputs[0]
    axis = a.get("axis", 0)
    sizes = a.get("split") or _ints(inputs[1] if len(inputs) > 1 else None)
    if not sizes:
        n = x.shape[axis]
        chunk = -(-n // outputs)
        sizes = [min(chunk, n - i * chunk) for i in range(outputs)]
    return tuple(torch.split(x, list(sizes), dim=axis))


def _pad(x, pads, value=None, axes=None, *, a):
    p = _ints(pads)
    n = len(p) // 2
    axes_list = _ints(axes) if axes is not None else list(range(x.dim() - n, x.dim()))
    if axes_list != list(range(x.dim() - n, x.dim())):
        raise OnnxImportError("Pad on leading axes only is not supported")
    begin, end = p[:n], p[n:]
    while n and begin[0] == end[0] == 0:  # leading unpadded axes (N, C): torch pads trailing ones only
        begin, end, n = begin[1:], end[1:], n - 1
    torch_pads = [q for i in reversed(range(n)) for q in (begin[i], end[i])]
    mode = {"constant": "constant", "reflect": "reflect", "edge": "replicate"}.get(a.get("mode", "constant"))
    if mode is None:
        raise OnnxImportError(f"Pad mode {a['mode']!r} is not supported")
    if mode == "constant":
        return F.pad(x, torch_pads, value=0.0 if value is None else float(value.reshape(-1)[0]))
    return F.pad(x, torch_pads, mode=mode)


def _expand(x, shape):
    return x.expand(torch.broadcast_shapes(x.shape, tuple(_ints(shape))))


def _shape(x, *, a):
    dims = list(x.shape)[a.get("start", 0): a.get("end", None)]
    return torch.tensor(dims, dtype=torch.int64, device=x.device)


def _constant_of_shape(shape, *, a):
    value = a.get("value", torch.zeros(1))
    return torch.full(tuple(_ints(shape)), value.reshape(-1)[0].item(), dtype=value.dtype, device=shape.device)


def _range(start, limit, delta):
    return torch.arange(start.item(), limit.item(), delta.item(), dtype=start.dtype, device=start.device)


_DTYPES = {onnx.TensorProto.FLOAT: torch.float32, onnx.TensorProto.DOUBLE: torch.float64,
           onnx.TensorProto.INT64: torch.int64, onnx.TensorProto.INT32: torch.int32,
           onnx.TensorProto.BOOL: torch.bool, onnx.TensorProto.FLOAT16: torch.float16}


def _cast(x, *, a):
    to = _DTYPES.get(a["to"])
    if to is None:
        raise OnnxImportError(f"Cast to ONNX type {a['to']} is not supported")
    return x.to(to)


def _clip(x, low=None, high=None):
    if low is None and high is None:  # both bounds omitted: ONNX leaves x as it is, torch refuses
        return x
    return torch.clamp(x, None if low is None else low.item(), None if high is None else high.item())


def _layer_norm(x, scale, bias=None, *, a):
    axis = a.get("axis", -1) % x.dim()
    return F.layer_norm(x, x.shape[axis:], scale, bias, a.get("epsilon", 1e-5))


def _softmax(x, *, a):
    return torch.softmax(x, dim=a.get("axis", -1))


def _flatten(x, *, a):
    axis = a.get("axis", 1) % (x.dim() or 1)
    return x.reshape(math.prod(x.shape[:axis]), -1)


def _global_pool(x, kind):
    dims = list(range(2, x.dim()))
    return x.mean(dims, keepdim=True) if kind == "avg" else x.amax(dims, keepdim=True)


# op -> fn(inputs, attrs, training, n_outputs). Simple element-wise ops take
# positional inputs; the rest unpack what they need.
def _positional(fn: Callable) -> Callable:
    return lambda i, a, t, n: fn(*i)


def _with_attrs(fn: Callable) -> Callable:
    return lambda i, a, t, n: fn(*i, a=a)


OPS: dict[str, Callable[[list, dict, bool, int], Any]] = {
    "Add": _positional(torch.add),
    "Sub": _positional(torch.sub),
    "Mul": _positional(torch.mul),
    "Div": lambda i, a, t, n: torch.div(i[0], i[1], rounding_mode="trunc") if not i[0].is_floating_point() else i[0] / i[1],
    "Pow": _positional(torch.pow),
    "Sqrt": _positional(torch.sqrt),
    "Neg": _positional(torch.neg),
    "Abs": _positional(torch.abs),
    "Exp": _positional(torch.exp),
    "Erf": _positional(torch.erf),
    "Tanh": _positional(torch.tanh),
    "Relu": _positional(torch.relu),
    "Sigmoid": _positional(torch.sigmoid),
    "HardSigmoid": lambda i, a, t, n: torch.clamp(a.get("alpha", 0.2) * i[0] + a.get("beta", 0.5), 0, 1),
    "Clip": _positional(_clip),
    "Equal": _positional(torch.eq),
    "Where": _positional(torch.where),
    "Identity": lambda i, a, t, n: i[0],
    "Cast": _with_attrs(_cast),
    "MatMul": _positional(torch.matmul),
    "Gemm": _with_attrs(_gemm),
    "Einsum": lambda i, a, t, n: torch.einsum(a["equation"], *i),
    "Conv": _with_attrs(lambda x, w, b=None, a=None: _conv(x, w, b, a=a)),
    "BatchNormalization": lambda i, a, t, n: _batch_norm(*i[:5], a=a, training=t),
    "LayerNormalization": _with_attrs(_layer_norm),
    "Softmax": _with_attrs(_softmax),
    "GlobalAveragePool": lambda i, a, t, n: _global_pool(i[0], "avg"),
    "GlobalMaxPool": lambda i, a, t, n: _global_pool(i[0], "max"),
    "AveragePool": lambda i, a, t, n: _pool(i[0], a, "avg"),
    "MaxPool": lambda i, a, t, n: _pool(i[0], a, "max"),
    "ReduceMean": lambda i, a, t, n: _reduce_mean(i, a),
    "Flatten": _with_attrs(_flatten),
    "Reshape": _with_attrs(_reshape),
    "Transpose": lambda i, a, t, n: i[0].permute(a["perm"]) if "perm" in a else i[0].permute(*reversed(range(i[0].dim()))),
    "Concat": lambda i, a, t, n: torch.cat(i, dim=a["axis"]),
    "Gather": _with_attrs(_gather),
    "Slice": _positional(_slice),
    "Split": lambda i, a, t, n: _split(i, a, n),
    "Squeeze": lambda i, a, t, n: _squeeze(i, a),
    "Unsqueeze": lambda i, a, t, n: _unsqueeze(i, a),
    "Pad": _with_attrs(_pad),
    "Expand": _positional(_expand),
    "Shape": _with_attrs(_shape),
    "ConstantOfShape": _with_attrs(_constant_of_shape),
    "Range": _positional(_range),
}


def _constant_value(node: onnx.NodeProto) -> torch.Tensor:
    a = _attrs(node)
    if "value" in a:
        return a["value"]
    for key, dtype in (("value_float", torch.float32), ("value_floats", torch.float32),
                       ("value_int", torch.int64), ("value_ints", torch.int64)):
        if key in a:
            return torch.tensor(a[key], dtype=dtype)
    raise OnnxImportError(f"Constant node {node.name or node.output[0]!r}: unsupported value attribute {sorted(a)}")


def _safe(name: str) -> str:
    # Module attribute names may not contain '.'; keep them readable and unique.
    return "t_" + re.sub(r"[^0-9A-Za-z_]", "_", name)


class OnnxModule(nn.Module):
    """Runs an ONNX graph (one input, first output returned) with PyTorch ops.

    `initializer_names` maps each ONNX initializer to the parameter or buffer
    holding it, so `write_onnx` can put trained values back.
    """

    def __init__(self, model: onnx.ModelProto, source: str = "model.onnx"):
        super().__init__()
        graph = model.graph
        self.source = source
        inits = {t.name: t for t in graph.initializer}
        real_inputs = [i.name for i in graph.input if i.name not in inits]
        if len(real_inputs) != 1:
            raise OnnxImportError(f"{source}: expected one graph input, found {len(real_inputs)} ({', '.join(real_inputs)})")
        self.input_name = real_inputs[0]
        self.output_name = graph.output[0].name
        domains = {o.domain for o in model.opset_import}
        unknown_domains = domains - {"", "ai.onnx"}
        for node in graph.node:
            if node.domain not in ("", "ai.onnx"):
                raise OnnxImportError(f"{source}: node {node.name or node.output[0]!r}: op {node.domain}.{node.op_type} "
                                      f"is not supported (custom domain; graph uses {sorted(unknown_domains)})")
            if node.op_type != "Constant" and node.op_type not in OPS:
                raise OnnxImportError(f"{source}: node {node.name or node.output[0]!r}: op {node.op_type} is not supported "
                                      f"(supported: {', '.join(sorted([*OPS, 'Constant']))})")

        trainable = {node.input[k] for node in graph.node for k in range(len(node.input)) if (node.op_type, k) in _WEIGHT_SLOTS}
        bn_stats = {node.input[k] for node in graph.node if node.op_type == "BatchNormalization" for k in _BN_STATS}
        self.params = nn.ParameterDict()
        self.initializer_names: dict[str, str] = {}
        for name, proto in inits.items():
            value = torch.from_numpy(numpy_helper.to_array(proto).copy())
            key = _safe(name)
            if value.is_floating_point() and name not in bn_stats and (name in trainable or value.numel() > 1):
                self.params[key] = nn.Parameter(value)
            else:
                self.register_buffer(key, value)
            self.initializer_names[name] = key
        self._constants: dict[str, str] = {}
        # Called with (value name, tensor) for every node output: how `taylor` taps activations.
        self.observe: Callable[[str, torch.Tensor], None] | None = None
        self.nodes: list[tuple[str, list[str], list[str], dict[str, Any], str]] = []
        for i, node in enumerate(graph.node):
            label = node.name or f"#{i} {node.op_type}"
            if node.op_type == "Constant":
                key = _safe(f"const_{node.output[0]}")
                self.register_buffer(key, _constant_value(node), persistent=False)
                self._constants[node.output[0]] = key
                continue
            self.nodes.append((node.op_type, list(node.input), list(node.output), _attrs(node), label))

    def _tensor(self, key: str) -> torch.Tensor:
        return self.params[key] if key in self.params else getattr(self, key)

    def named_initializers(self) -> dict[str, torch.Tensor]:
        """ONNX initializer name -> the tensor that holds it now."""
        return {name: self._tensor(key) for name, key in self.initializer_names.items()}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        env: dict[str, torch.Tensor] = {self.input_name: x}
        for name, key in self.initializer_names.items():
            env[name] = self._tensor(key)
        for name, key in self._constants.items():
            env[name] = getattr(self, key)
        for op, inputs, outputs, attrs, label in self.nodes:
            args = [env[n] if n else None for n in inputs]
            try:
                result = OPS[op](args, attrs, self.training, len(outputs))
            except OnnxImportError as e:
                raise OnnxImportError(f"{self.source}: node {label!r} ({op}): {e}") from None
            except (RuntimeError, ValueError, IndexError, TypeError) as e:
                raise OnnxImportError(f"{self.source}: node {label!r} ({op}) failed on inputs "
                                      f"{[tuple(a.shape) if a is not None else None for a in args]}: {e}") from e
            for name, value in zip(outputs, result if isinstance(result, tuple) else (result,)):
                env[name] = value
                if self.observe is not None:
                    self.observe(name, value)
        return env[self.output_name]


def load_onnx_module(path: str | Path) -> tuple[OnnxModule, onnx.ModelProto]:
    """(module, the parsed graph). Raises OnnxImportError for unreadable files and unsupported ops."""
    path = Path(path)
    if not path.is_file():
        raise OnnxImportError(f"{path}: file not found")
    try:
        model = onnx.load(str(path))
    except Exception as e:  # protobuf raises DecodeError and friends
        raise OnnxImportError(f"{path}: not a readable ONNX file: {e}") from None
    return OnnxModule(model, str(path)), model


def write_onnx(module: OnnxModule, model: onnx.ModelProto, path: str | Path) -> None:
    """Writes `model` with every initializer replaced by the module's current value."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    current = module.named_initializers()
    for i, proto in enumerate(out.graph.initializer):
        value = current[proto.name].detach().to("cpu")
        array = value.numpy()
        out.graph.initializer[i].CopyFrom(numpy_helper.from_array(np.ascontiguousarray(array), proto.name))
    onnx.save(out, str(path))


def onnxruntime_max_diff(module: nn.Module, path: str | Path, inputs: Sequence[torch.Tensor]) -> float:
    """Largest |onnxruntime - module| over the outputs for `inputs` (module in eval mode, CPU, float32)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    module = module.to("cpu").eval()
    worst = 0.0
    with torch.no_grad():
        for x in inputs:
            (got,) = session.run(None, {name: x.numpy()})[:1]
            want = module(x).numpy()
            if got.shape != want.shape:
                raise OnnxImportError(f"{path}: onnxruntime output shape {got.shape} != PyTorch {want.shape}")
            worst = max(worst, float(np.max(np.abs(got - want))))
    return worst


__all__ = ["OPS", "OnnxImportError", "OnnxModule", "load_onnx_module", "onnxruntime_max_diff", "write_onnx"]
