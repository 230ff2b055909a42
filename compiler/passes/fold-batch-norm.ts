// Folds an inference-mode BatchNormalization into the Conv that feeds it:
//   BN(conv(x, W) + b) = conv(x, W * s) + (b - mean) * s + B,  s = scale / sqrt(var + eps)
// per output channel. A BN that does not directly follow such a Conv stays.
// The BN's parameters become unused; eliminateDeadNodes removes them.
import {
  constantInitializers, definedNames, getFloat, getInt, isDefaultDomain, producerIndex, renameReads, uniqueName, useCounts,
  type Node, type Tensor,
} from "../ir/index.ts";
import { count, type Pass } from "./pass.ts";

export const foldBatchNorm: Pass = {
  name: "fold-batchnorm",
  run(graph) {
    const constants = constantInitializers(graph);
    const producers = producerIndex(graph);
    const uses = useCounts(graph);
    const taken = definedNames(graph);
    const replaced = new Map<number, Node>(); // conv index -> folded conv
    const dropped = new Set<number>(); // folded BN indices
    const tensors = new Map<string, Tensor>(); // new or replaced initializers by name
    const graphOutputs = new Set(graph.outputs.map((o) => o.name));
    const renames = new Map<string, string>(); // folded BN output -> its Conv's output
    const gone = new Set<string>(); // values that no longer exist
    let left = 0;

    graph.nodes.forEach((bn, index) => {
      if (!isDefaultDomain(bn) || bn.op !== "BatchNormalization") return;
      const convIndex = producers.get(bn.inputs[0]);
      const conv = convIndex === undefined ? undefined : graph.nodes[convIndex];
      const params = conv && foldable(bn, conv, constants, uses);
      if (!conv || convIndex === undefined || !params) {
        left++;
        return;
      }
      const [wName, bName] = [conv.inputs[1], conv.inputs[2] ?? ""];
      const { weight, bias } = fold(params);
      // Reuse the parameters' names when this Conv is their only reader.
      const newW = uses.get(wName) === 1 ? wName : uniqueName(taken, `${wName}_bnfolded`);
      const biasBase = wName.endsWith("weight") ? `${wName.slice(0, -"weight".length)}bias` : `${wName}_bias`;
      const newB = bName && uses.get(bName) === 1 ? bName : uniqueName(taken, biasBase);
      taken.add(newW).add(newB);
      tensors.set(newW, { name: newW, dtype: "float32", dims: params.w.dims, data: weight });
      tensors.set(newB, { name: newB, dtype: "float32", dims: [bias.length], data: bias });
      // The Conv keeps its output name (readers of the BN read it instead),
      // unless the BN's output is a graph output, whose name must stay.
      const [convOut, bnOut] = [conv.outputs[0], bn.outputs[0]];
      const keepConvName = !graphOutputs.has(bnOut);
      if (keepConvName) renames.set(bnOut, convOut);
      gone.add(keepConvName ? bnOut : convOut);
      replaced.set(convIndex, { ...conv, inputs: [conv.inputs[0], newW, newB], outputs: [keepConvName ? convOut : bnOut] });
      dropped.add(index);
    });

    const result = renameReads(
      {
        ...graph,
        nodes: graph.nodes.flatMap((n, i) => (dropped.has(i) ? [] : [replaced.get(i) ?? n])),
        initializers: [
          ...graph.initializers.map((t) => tensors.get(t.name) ?? t),
          ...[...tensors.values()].filter((t) => !constants.has(t.name)),
        ],
        valueInfo: graph.valueInfo.filter((v) => !gone.has(v.name)),
      },
      renames,
    );
    return {
      graph: result,
      summary:
        `folded ${count(dropped.size, "BatchNormalization node")} into Conv` +
        (left ? `, left ${left} (not after a foldable Conv)` : ""),
    };
  },
};

interface Params {
  readonly w: Tensor;
  readonly b?: Tensor;
  readonly scale: Tensor;
  readonly shift: Tensor;
  readonly mean: Tensor;
  readonly variance: Tensor;
  readonly epsilon: number;
}

/** The float32 constants a fold needs, or undefined when this Conv -> BN pair cannot be folded. */
function foldable(
  bn: Node,
  conv: Node,
  constants: ReadonlyMap<string, Tensor>,
  uses: ReadonlyMap<string, number>,
): Params | undefined {
  if (!isDefaultDomain(conv) || conv.op !== "Conv" || conv.outputs.length !== 1) return undefined;
  // The Conv's output must feed only this BN; the BN must be in inference mode.
  if (uses.get(conv.outputs[0]) !== 1) return undefined;
  if (bn.outputs.slice(1).some((o) => o !== "") || getInt(bn, "training_mode", 0) !== 0) return undefined;
  if (getInt(bn, "spatial", 1) !== 1) return undefined; // opset < 9: per-activation statistics
  const get = (name: string | undefined) => {
    const t = name ? constants.get(name) : undefined;
    return t?.dtype === "float32" ? t : undefined;
  };
  const w = get(conv.inputs[1]);
  const b = conv.inputs[2] ? get(conv.inputs[2]) : undefined;
  const [scale, shift, mean, variance] = [1, 2, 3, 4].map((i) => get(bn.inputs[i]));
  if (!w || (conv.inputs[2] && !b) || !scale || !shift || !mean || !variance) return undefined;
  const channels = w.dims[0];
  if ([scale, shift, mean, variance, ...(b ? [b] : [])].some((t) => t.data.length !== channels)) return undefined;
  return { w, b, scale, shift, mean, variance, epsilon: getFloat(bn, "epsilon", 1e-5) };
}

function fold(p: Params): { weight: Float32Array; bias: Float32Array } {
  const w = p.w.data as Float32Array;
  const channels = p.w.dims[0];
  const perChannel = w.length / channels;
  const weight = new Float32Array(w.length);
  const bias = new Float32Array(channels);
  const [scale, shift, mean, variance] = [p.scale, p.shift, p.mean, p.variance].map((t) => t.data as Float32Array);
  for (let c = 0; c < channels; c++) {
    const s = scale[c] / Math.sqrt(variance[c] + p.epsilon);
    for (let k = c * perChannel; k < (c + 1) * perChannel; k++) weight[k] = w[k] * s;
    bias[c] = ((p.b ? (p.b.data as Float32Array)[c] : 0) - mean[c]) * s + shift[c];
  }
  return { weight, bias };
}
