// Weight-only int8 storage: Conv/Gemm/MatMul weights become int8 (per output
// channel, symmetric) behind a DequantizeLinear; everything computes in fp32.
// A size candidate: ~4x smaller weights, no activation error, no integer kernels.
import { constantInitializers, getInt, isDefaultDomain, type Graph, type Node, type Tensor } from "../ir/index.ts";
import { eliminateDeadNodes } from "../passes/eliminate-dead-nodes.ts";
import { dequantizedWeight, tensorSink } from "./emit.ts";
import { nodeKey } from "./plan.ts";

export function toWeightOnly(graph: Graph, options: { reduceRange?: boolean; exclude?: ReadonlySet<string> } = {}): { graph: Graph; summary: string } {
  const constants = constantInitializers(graph);
  const sink = tensorSink(graph);
  const done = new Map<string, string>(); // weight|axis -> dequantized name
  const nodes: Node[] = [];
  graph.nodes.forEach((node, index) => {
    const w = constants.get(node.inputs[1] ?? "");
    const axis = w && weightAxis(node, w);
    if (!w || axis === null || !isDefaultDomain(node) || w?.dtype !== "float32" || options.exclude?.has(nodeKey(node, index))) {
      nodes.push(node);
      return;
    }
    const key = `${w.name}|${axis}`;
    if (!done.has(key)) {
      const dq = dequantizedWeight(sink, w, axis, options.reduceRange ?? false);
      nodes.push(dq.node);
      done.set(key, dq.name);
    }
    nodes.push({ ...node, inputs: node.inputs.map((n, i) => (i === 1 ? done.get(key)! : n)) });
  });
  const result = eliminateDeadNodes.run({ ...graph, nodes, initializers: [...graph.initializers, ...sink.added] }).graph;
  return { graph: result, summary: `weight-only int8: ${done.size} weights stored as int8` };
}

/** The per-channel axis of a node's weight (input 1), undefined for per tensor, null when the node has no weight to store. */
function weightAxis(node: Node, w: Tensor): number | undefined | null {
  if (node.op === "Conv") return 0;
  if (node.op === "Gemm") return getInt(node, "transB", 0) === 1 ? 0 : 1;
  if (node.op === "MatMul") return w.dims.length >= 2 ? w.dims.length - 1 : undefined;
  return null;
}
