"""Writes the onnx package's node test cases to disk, offline.

The onnx wheel no longer ships backend/test/data/node, but it ships the
generators (onnx.backend.test.case.node): each case builds its model and
expected outputs in memory. This script lays the cases out the way the
backend test data used to be:

    OUT/<case>/model.onnx
    OUT/<case>/test_data_set_0/input_<i>.pb, output_<i>.pb

Only cases whose every node is a default-domain op named in --ops and whose
inputs and outputs are all tensors are written. OUT/index.json lists every
case with its ops and why it was not written, if it was not:

    .venv/bin/python compiler/testing/onnx-node-cases.py --out DIR --ops Add,Conv,...
"""

from __future__ import annotations

import argparse
import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper
from onnx.backend.test.case.node import collect_testcases


def node_ops(graph: onnx.GraphProto) -> set[str]:
    """Ops of a graph and its subgraphs; other domains as domain.op."""
    ops = set()
    for node in graph.node:
        ops.add(node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}")
        for a in node.attribute:
            for g in [a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs):
                ops |= node_ops(g)
    return ops


def as_tensor(value: object, name: str) -> onnx.TensorProto | None:
    if isinstance(value, onnx.TensorProto):
        return value
    if isinstance(value, np.ndarray):
        # numpy_helper keeps the array's dtype; object arrays are strings.
        return numpy_helper.from_array(value, name)
    return None  # a sequence, map or optional


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--ops", required=True, help="comma-separated default-domain ops to write cases for")
    args = p.parse_args()
    supported = set(args.ops.split(","))

    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = collect_testcases()
    index = []
    for case in sorted(cases, key=lambda c: c.name):
        ops = sorted(node_ops(case.model.graph))
        entry: dict = {"name": case.name, "ops": ops}
        index.append(entry)
        if not set(ops) <= supported:
            entry["skipped"] = "op not supported"
            continue
        inputs, outputs = case.data_sets[0]
        graph = case.model.graph
        names = [i.name for i in graph.input], [o.name for o in graph.output]
        tensors = [
            [as_tensor(v, n) for v, n in zip(values, value_names, strict=False)]
            for values, value_names in zip((inputs, outputs), names, strict=True)
        ]
        if any(t is None for group in tensors for t in group):
            entry["skipped"] = "non-tensor inputs or outputs"
            continue
        data = args.out / case.name / "test_data_set_0"
        data.mkdir(parents=True)
        onnx.save(case.model, str(args.out / case.name / "model.onnx"))
        for prefix, group in zip(("input", "output"), tensors, strict=True):
            for i, t in enumerate(group):
                (data / f"{prefix}_{i}.pb").write_bytes(t.SerializeToString())
    (args.out / "index.json").write_text(json.dumps({"onnx": onnx.__version__, "ops": sorted(supported), "cases": index}, indent=1))


if __name__ == "__main__":
    main()
