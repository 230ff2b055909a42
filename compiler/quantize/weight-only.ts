// Weight-only int8 storage: Conv/Gemm/MatMul weights become int8 (per output
// channel, symmetric) behind a DequantizeLinear; everything computes in fp32.
// A size candidate: ~4x smaller weights, no activation error, no integer kernels.
import { attr, constantInitializers, definedNames, getInt, isDefaultDomain, makeNode, makeTensor, uniqueName, type Graph, type Node, type Tensor } from "../ir/index.ts";
import { eliminateDeadNodes } from "../passes/eliminate-dead-nodes.ts";
import { quantizeWeight } from "./params.ts";
import { nodeKey } from "./plan.ts";

export function toWeightOnly(graph: Graph, options: { reduceRange?: boolean; exclude?: ReadonlySet<string> } = {}): { graph: Graph; summary: string } {
  const constants = constantInitializers(graph);
  const taken = definedNames(graph);
  const fresh = (base: string) => {
    const name = uniqueName(taken, base);
    taken.add(name);
    return name;
  };
  const added: Tensor[] = [];
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
      const q = quantizeWeight(w, axis, options.reduceRange ?? false);
      const dims = axis === undefined ? [] : [q.scales.length];
      const names = [fresh(`${w.name}_quantized`), fresh(`${w.name}_scale`), fresh(`${w.name}_zero_point`)];
      added.push(
        makeTensor(names[0], "int8", w.dims, q.data),
        makeTensor(names[1], "float32", dims, dims.length ? q.scales : Float32Array.of(q.scales[0])),
        makeTensor(names[2], "int8", dims, new Int8Array(q.scales.length)),
      );
      const dq = fresh(`${w.name}_dequantized`);
      nodes.push(makeNode("DequantizeLinear", names, [dq], axis === undefined ? {} : { axis: attr.int(axis) }, `${w.name}_DequantizeLinear`));
      done.set(key, dq);
    }
    nodes.push({ ...node, inputs: node.inputs.map((n, i) => (i === 1 ? done.get(key)! : n)) });
  });
  const result = eliminateDeadNodes.run({ ...graph, nodes, initializers: [...graph.initializers, ...added] }).graph;
  return { graph: result, summary: `weight-only int8: ${done.size} weights stored as int8` };
}

/** The per-channel axis of a node's weight (input 1), undefined for per tensor, null when the node has no weight to store. */
function weightAxis(node: Node, w: Tensor): number | undefined | null {
  if (node.op === "Conv") return 0;
  if (node.op === "Gemm") return getInt(node, "transB", 0) === 1 ? 0 : 1;
  if (node.op === "MatMul") return w.dims.length >= 2 ? w.dims.length - 1 : undefined;
  return null;
}
