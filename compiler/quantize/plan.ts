// Which nodes a quantized graph computes in int8, and how: the weight and bias
// inputs to store as integers, the activations to quantize, and the Relus the
// quantization itself performs (uint8 with zero point 0 clamps at 0, as
// onnxruntime's quantizer folds them).
import {
  constantInitializers, getFloat, getInt, isDefaultDomain, useCounts, type Graph, type Node, type Tensor,
} from "../ir/index.ts";
import type { ActivationType } from "./params.ts";
import type { Range } from "./ranges.ts";

export const QUANTIZABLE_OPS = ["Conv", "MatMul", "Gemm", "Add", "Mul", "Sigmoid", "AveragePool", "GlobalAveragePool"] as const;

export interface QuantizeSpec {
  readonly ranges: ReadonlyMap<string, Range>;
  readonly activations: ActivationType;
  readonly reduceRange: boolean;
  /** Node keys (see nodeKey) kept in fp32. */
  readonly exclude: ReadonlySet<string>;
}

export interface NodePlan {
  /** The constant weight input and its per-channel axis (undefined: per tensor). */
  readonly weight?: { readonly input: number; readonly axis: number | undefined };
  /** The constant bias input, quantized to int32 at input scale x weight scale. */
  readonly bias?: number;
}

export interface Plan {
  /** Node index -> how it is quantized. */
  readonly nodes: ReadonlyMap<number, NodePlan>;
  /** Float activations (graph inputs and node outputs) that get Q/DQ. */
  readonly tensors: ReadonlySet<string>;
  /** Relu index -> the quantized node whose output it clamps (uint8 only). */
  readonly foldedRelus: ReadonlyMap<number, number>;
}

/** How quantization options and sensitivity reports name a node. */
export function nodeKey(node: Node, index: number): string {
  return node.name || `${node.op}#${index}`;
}

export function planQuantization(graph: Graph, spec: QuantizeSpec): Plan {
  const constants = constantInitializers(graph);
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const nodes = new Map<number, NodePlan>();
  const tensors = new Set<string>();
  graph.nodes.forEach((node, index) => {
    if (!isDefaultDomain(node) || !(QUANTIZABLE_OPS as readonly string[]).includes(node.op)) return;
    if (spec.exclude.has(nodeKey(node, index))) return;
    const plan = nodePlan(node, constants);
    if (!plan) return;
    const activations = node.inputs.filter((name, i) => name !== "" && i !== plan.weight?.input && i !== plan.bias);
    if (!activations.every((a) => spec.ranges.has(a) && !constants.has(a))) return;
    const out = node.outputs[0];
    // A graph output stays float: the op reads dequantized inputs and writes fp32.
    if (!outputs.has(out) && !spec.ranges.has(out)) return;
    nodes.set(index, plan);
    activations.forEach((a) => tensors.add(a));
    if (!outputs.has(out)) tensors.add(out);
  });
  const foldedRelus = spec.activations === "uint8" ? reluFolds(graph, nodes, tensors, spec) : new Map<number, number>();
  for (const [relu, producer] of foldedRelus) {
    tensors.delete(graph.nodes[producer].outputs[0]);
    tensors.add(graph.nodes[relu].outputs[0]);
  }
  return { nodes, tensors, foldedRelus };
}

function nodePlan(node: Node, constants: ReadonlyMap<string, Tensor>): NodePlan | undefined {
  const constant = (i: number) => {
    const t = constants.get(node.inputs[i] ?? "");
    return t?.dtype === "float32" ? t : undefined;
  };
  const hasBias = (node.inputs[2] ?? "") !== "";
  switch (node.op) {
    case "Conv":
      if (!constant(1) || (hasBias && !constant(2))) return undefined;
      return { weight: { input: 1, axis: 0 }, ...(hasBias && { bias: 2 }) };
    case "Gemm": {
      const b = constant(1);
      if (!b || b.dims.length !== 2 || getInt(node, "transA", 0) !== 0) return undefined;
      if (getFloat(node, "alpha", 1) !== 1 || getFloat(node, "beta", 1) !== 1) return undefined;
      const transB = getInt(node, "transB", 0) === 1;
      const n = transB ? b.dims[0] : b.dims[1];
      if (hasBias && constant(2)?.data.length !== n) return undefined;
      return { weight: { input: 1, axis: transB ? 0 : 1 }, ...(hasBias && { bias: 2 }) };
    }
    case "MatMul": {
      const b = constant(1);
      if (constant(0)) return undefined;
      // Per tensor: QLinearMatMul's per-column scales are not in every runtime.
      return b ? (b.dims.length === 2 ? { weight: { input: 1, axis: undefined } } : undefined) : {};
    }
    case "Add":
    case "Mul":
      return node.inputs.some((_, i) => constant(i) || constants.has(node.inputs[i])) ? undefined : {};
    default:
      return {};
  }
}

/** Relus whose input is a quantized Conv/Gemm/MatMul/Add's output read by nothing else. */
function reluFolds(graph: Graph, nodes: ReadonlyMap<number, NodePlan>, tensors: ReadonlySet<string>, spec: QuantizeSpec): Map<number, number> {
  const uses = useCounts(graph);
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const producerOf = new Map<string, number>();
  nodes.forEach((_, i) => producerOf.set(graph.nodes[i].outputs[0], i));
  const folds = new Map<number, number>();
  graph.nodes.forEach((node, index) => {
    if (!isDefaultDomain(node) || node.op !== "Relu" || spec.exclude.has(nodeKey(node, index))) return;
    const producer = producerOf.get(node.inputs[0]);
    if (producer === undefined || !tensors.has(node.inputs[0]) || uses.get(node.inputs[0]) !== 1) return;
    if (!["Conv", "Gemm", "MatMul", "Add"].includes(graph.nodes[producer].op)) return;
    if (!spec.ranges.has(node.outputs[0]) || outputs.has(node.outputs[0])) return;
    folds.set(index, producer);
  });
  return folds;
}
