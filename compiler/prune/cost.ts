// What a graph costs: parameters (float initializer elements) and
// multiply-adds of its Conv, Gemm and MatMul nodes for one clip (batch 1).
// MACs are NaN when shape inference cannot type every such node.
import { elementCount, getInt, type Dim, type Graph } from "../ir/index.ts";
import { tolerantTypes } from "./groups.ts";

export interface Cost {
  readonly params: number;
  readonly macs: number;
}

export function graphCost(graph: Graph): Cost {
  const params = graph.initializers
    .filter((t) => t.dtype === "float32" || t.dtype === "float16")
    .reduce((n, t) => n + elementCount(t.dims), 0);
  const types = tolerantTypes(graph);
  const batchOne = (shape: readonly Dim[] | undefined): number[] =>
    shape ? shape.map((d, i) => (typeof d === "number" ? d : i === 0 ? 1 : NaN)) : [NaN];
  let macs = 0;
  for (const node of graph.nodes) {
    if (node.op !== "Conv" && node.op !== "Gemm" && node.op !== "MatMul") continue;
    const out = batchOne(types.get(node.outputs[0])?.shape);
    const w = batchOne(types.get(node.inputs[1])?.shape);
    const outputs = out.reduce((p, d) => p * d, 1);
    if (node.op === "Conv") macs += outputs * w.slice(1).reduce((p, d) => p * d, 1);
    else if (node.op === "Gemm") macs += outputs * (getInt(node, "transB", 0) ? w[1] : w[0]);
    else macs += outputs * w[w.length - 2];
  }
  return { params, macs };
}
