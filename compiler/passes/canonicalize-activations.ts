// One form for the activations and gates the exporters write in several:
// - Swish: Mul(Sigmoid(x), x) becomes Mul(x, Sigmoid(x)) (findSwish's form);
// - squeeze-excite: the pool is GlobalAveragePool (the dynamo exporter writes
//   ReduceMean over the spatial axes) and the scaling Mul reads x first
//   (findSqueezeExcite's form), so pruning sees every SE block the same way.
// More generally every keepdims ReduceMean over all spatial axes of a
// tensor of known rank becomes GlobalAveragePool: the same arithmetic.
import {
  findSqueezeExcite, inferTypes, initializerMap, isDefaultDomain, isGlobalPool, makeNode, OnnxError, producerIndex,
  useCounts, type Graph, type Node, type TensorType,
} from "../ir/index.ts";
import { count, type Pass } from "./pass.ts";

export const canonicalizeActivations: Pass = {
  name: "canonicalize-activations",
  run(graph) {
    const replaced = new Map<number, Node>();
    const pools = poolsToGlobal(graph, replaced);
    const swishes = orderSwishInputs(graph, replaced);
    const rewritten: Graph = replaced.size ? { ...graph, nodes: graph.nodes.map((n, i) => replaced.get(i) ?? n) } : graph;
    // SE scaling Muls: x first.
    let gates = 0;
    const nodes = [...rewritten.nodes];
    for (const se of findSqueezeExcite(rewritten)) {
      const mul = nodes[se.scale];
      if (mul.inputs[0] === se.input) continue;
      nodes[se.scale] = { ...mul, inputs: [mul.inputs[1], mul.inputs[0]] };
      gates++;
    }
    const blocks = findSqueezeExcite({ ...rewritten, nodes }).length;
    return {
      graph: gates ? { ...rewritten, nodes } : rewritten,
      summary:
        `${count(swishes, "Swish Mul")} and ${count(gates, "squeeze-excite gate")} reordered, ` +
        `${count(pools, "ReduceMean")} made GlobalAveragePool; ${count(blocks, "squeeze-excite block")}`,
    };
  },
};

function poolsToGlobal(graph: Graph, replaced: Map<number, Node>): number {
  const candidates = graph.nodes.some((n) => isDefaultDomain(n) && n.op === "ReduceMean");
  if (!candidates) return 0;
  let types: Map<string, TensorType>;
  try {
    types = inferTypes(graph);
  } catch (e) {
    // Without shapes the ranks are unknown: leave the ReduceMeans.
    if (e instanceof OnnxError) return 0;
    throw e;
  }
  const constants = initializerMap(graph);
  let n = 0;
  graph.nodes.forEach((node, i) => {
    if (!isDefaultDomain(node) || node.op !== "ReduceMean" || node.outputs.length !== 1) return;
    const rank = types.get(node.inputs[0])?.shape?.length;
    if (rank === undefined || rank < 3 || !isGlobalPool(node, rank, constants)) return;
    replaced.set(i, { ...makeNode("GlobalAveragePool", [node.inputs[0]], node.outputs, {}, node.name), ...extrasOf(node) });
    n++;
  });
  return n;
}

function orderSwishInputs(graph: Graph, replaced: Map<number, Node>): number {
  const producers = producerIndex(graph);
  const uses = useCounts(graph);
  let n = 0;
  graph.nodes.forEach((mul, i) => {
    if (!isDefaultDomain(mul) || mul.op !== "Mul" || mul.inputs.length !== 2) return;
    const s = producers.get(mul.inputs[0]);
    const sigmoid = s === undefined ? undefined : graph.nodes[s];
    if (!sigmoid || !isDefaultDomain(sigmoid) || sigmoid.op !== "Sigmoid") return;
    if (sigmoid.inputs[0] !== mul.inputs[1] || uses.get(sigmoid.outputs[0]) !== 1) return;
    replaced.set(i, { ...mul, inputs: [mul.inputs[1], mul.inputs[0]] });
    n++;
  });
  return n;
}

/** The fields a rewritten node keeps from the one it replaces (doc string, unmodeled bytes). */
function extrasOf(node: Node): Partial<Node> {
  return { ...(node.docString && { docString: node.docString }), ...(node.extra && { extra: node.extra }) };
}
