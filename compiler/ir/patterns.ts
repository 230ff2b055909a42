// Recognised subgraphs that several passes need to see as one unit:
// - Swish, x * sigmoid(x), in its canonical form Mul(x, Sigmoid(x)) with a
//   Sigmoid only that Mul reads (the canonicalize-activations pass makes it so);
// - squeeze-excite blocks: x * gate(expand(act(reduce(pool(x))))), whose
//   input and output channels are x's, and whose hidden channels are its own.
import { getInt, getInts, initializerMap, isDefaultDomain, producerIndex, useCounts } from "./graph.ts";
import type { Graph, Node, Tensor } from "./types.ts";

export interface Swish {
  /** x. */
  readonly input: string;
  readonly output: string;
  readonly sigmoid: number;
  readonly mul: number;
}

export interface SqueezeExcite {
  /** x: what is pooled and then scaled. */
  readonly input: string;
  /** x * gate. */
  readonly output: string;
  /** GlobalAveragePool, or ReduceMean over every spatial axis keeping dims. */
  readonly pool: number;
  /** 1x1 Conv: channels -> hidden. */
  readonly reduce: number;
  /** Relu, or a Swish (its Mul's index; the Sigmoid is at activationSigmoid). */
  readonly activation: number;
  readonly activationSigmoid?: number;
  /** 1x1 Conv: hidden -> channels. */
  readonly expand: number;
  /** Sigmoid or HardSigmoid. */
  readonly gate: number;
  /** The Mul that scales x. */
  readonly scale: number;
  /** Every node of the block, in graph order. */
  readonly nodes: readonly number[];
}

const is = (node: Node | undefined, op: string): boolean => !!node && isDefaultDomain(node) && node.op === op;

/** Every Swish in canonical form. */
export function findSwish(graph: Graph): Swish[] {
  const producers = producerIndex(graph);
  const uses = useCounts(graph);
  return graph.nodes.flatMap((mul, index): Swish[] => {
    if (!is(mul, "Mul") || mul.inputs.length !== 2) return [];
    const sigmoid = producers.get(mul.inputs[1]);
    const s = sigmoid === undefined ? undefined : graph.nodes[sigmoid];
    if (!s || !is(s, "Sigmoid") || s.inputs[0] !== mul.inputs[0] || uses.get(s.outputs[0]) !== 1) return [];
    return [{ input: mul.inputs[0], output: mul.outputs[0], sigmoid: sigmoid!, mul: index }];
  });
}

/** Every squeeze-excite block (either order of the scaling Mul's inputs). */
export function findSqueezeExcite(graph: Graph): SqueezeExcite[] {
  const producers = producerIndex(graph);
  const weights = initializerMap(graph);
  const pointwise = (node: Node) => pointwiseConvRank(node, weights);
  const swishAt = new Map(findSwish(graph).map((s) => [s.mul, s]));
  const producerOf = (value: string | undefined) => {
    const i = value === undefined ? undefined : producers.get(value);
    return i === undefined ? undefined : { i, node: graph.nodes[i] };
  };
  return graph.nodes.flatMap((mul, scale): SqueezeExcite[] => {
    if (!is(mul, "Mul") || mul.inputs.length !== 2) return [];
    for (const side of [0, 1]) {
      const x = mul.inputs[1 - side];
      const gate = producerOf(mul.inputs[side]);
      if (!gate || !(is(gate.node, "Sigmoid") || is(gate.node, "HardSigmoid"))) continue;
      const expand = producerOf(gate.node.inputs[0]);
      if (!expand || !pointwise(expand.node)) continue;
      const act = producerOf(expand.node.inputs[0]);
      if (!act) continue;
      const swish = swishAt.get(act.i);
      if (!is(act.node, "Relu") && !swish) continue;
      const reduce = producerOf(act.node.inputs[0]);
      const rank = reduce && pointwise(reduce.node);
      if (!reduce || !rank) continue;
      const pool = producerOf(reduce.node.inputs[0]);
      if (!pool || !isGlobalPool(pool.node, rank, weights) || pool.node.inputs[0] !== x) continue;
      const nodes = [pool.i, reduce.i, ...(swish ? [swish.sigmoid] : []), act.i, expand.i, gate.i, scale].sort((a, b) => a - b);
      return [{
        input: x, output: mul.outputs[0], pool: pool.i, reduce: reduce.i, activation: act.i,
        ...(swish && { activationSigmoid: swish.sigmoid }), expand: expand.i, gate: gate.i, scale, nodes,
      }];
    }
    return [];
  });
}

/** The rank of a Conv's input when it is ungrouped with a 1x1.. kernel (an initializer), else undefined. */
function pointwiseConvRank(node: Node, weights: ReadonlyMap<string, Tensor>): number | undefined {
  if (!is(node, "Conv") || getInt(node, "group", 1) !== 1) return undefined;
  const w = weights.get(node.inputs[1]);
  return w && w.dims.length >= 3 && w.dims.slice(2).every((k) => k === 1) ? w.dims.length : undefined;
}

/** GlobalAveragePool, or a ReduceMean over every spatial axis of a rank-`rank` tensor that keeps dims. */
export function isGlobalPool(node: Node, rank: number, constants: ReadonlyMap<string, Tensor>): boolean {
  if (is(node, "GlobalAveragePool")) return true;
  if (!is(node, "ReduceMean") || getInt(node, "keepdims", 1) !== 1) return false;
  const fromInput = node.inputs[1] ? constants.get(node.inputs[1]) : undefined;
  const axes = getInts(node, "axes") ?? (fromInput && Array.from(fromInput.data as BigInt64Array, Number));
  if (!axes || axes.length !== rank - 2) return false;
  const normalized = axes.map((a) => (a < 0 ? a + rank : a)).sort((a, b) => a - b);
  return normalized.every((a, i) => a === i + 2);
}
