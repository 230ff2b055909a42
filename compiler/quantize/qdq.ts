// The QDQ form: every planned activation T gets T -> QuantizeLinear ->
// DequantizeLinear right after it is produced and every reader reads the
// dequantized value; planned weights become int8 initializers (per channel)
// behind a DequantizeLinear, biases int32. onnxruntime fuses DQ -> op -> Q
// groups into integer kernels; elsewhere the graph computes in fp32.
import {
  attr, constantInitializers, definedNames, makeNode, makeTensor, renameReads, uniqueName,
  type Graph, type Node, type Tensor,
} from "../ir/index.ts";
import { eliminateDeadNodes } from "../passes/eliminate-dead-nodes.ts";
import { activationParams, quantizeBias, quantizeWeight, type ActivationParams } from "./params.ts";
import { nodeKey, planQuantization, type Plan, type QuantizeSpec } from "./plan.ts";

export interface QdqResult {
  readonly graph: Graph;
  readonly plan: Plan;
  /** Scale and zero point of every quantized activation. */
  readonly params: ReadonlyMap<string, ActivationParams>;
  readonly summary: string;
}

export function toQdq(graph: Graph, spec: QuantizeSpec): QdqResult {
  const plan = planQuantization(graph, spec);
  const constants = constantInitializers(graph);
  const taken = definedNames(graph);
  const fresh = (base: string) => {
    const name = uniqueName(taken, base);
    taken.add(name);
    return name;
  };
  const added: Tensor[] = [];
  const constant = (base: string, dtype: Tensor["dtype"], dims: number[], data: Tensor["data"]) => {
    const name = fresh(base);
    added.push(makeTensor(name, dtype, dims, data));
    return name;
  };
  const params = new Map<string, ActivationParams>();
  const renames = new Map<string, string>(); // activation -> its dequantized value
  const qdq = (t: string): Node[] => {
    const p = activationParams(spec.ranges.get(t)!, spec.activations);
    params.set(t, p);
    const zeroData = spec.activations === "uint8" ? Uint8Array.of(p.zeroPoint) : Int8Array.of(p.zeroPoint);
    const scale = constant(`${t}_scale`, "float32", [], Float32Array.of(p.scale));
    const zero = constant(`${t}_zero_point`, spec.activations, [], zeroData);
    const [q, dq] = [fresh(`${t}_quantized`), fresh(`${t}_dequantized`)];
    renames.set(t, dq);
    return [
      makeNode("QuantizeLinear", [t, scale, zero], [q], {}, `${t}_QuantizeLinear`),
      makeNode("DequantizeLinear", [q, scale, zero], [dq], {}, `${t}_DequantizeLinear`),
    ];
  };

  // Folded Relus vanish: their producer writes the Relu's output directly.
  const folded = new Map([...plan.foldedRelus].map(([relu, producer]) => [producer, graph.nodes[relu].outputs[0]]));
  const nodes: Node[] = graph.inputs.filter((i) => plan.tensors.has(i.name)).flatMap((i) => qdq(i.name));
  const weights = new Map<string, { name: string; scales: Float32Array }>(); // per (weight, axis): shared by readers
  let weightCount = 0;
  graph.nodes.forEach((node, index) => {
    if (plan.foldedRelus.has(index)) return;
    const np = plan.nodes.get(index);
    let current = folded.has(index) ? { ...node, outputs: [folded.get(index)!, ...node.outputs.slice(1)] } : node;
    if (np?.weight) {
      const inputs = [...current.inputs];
      const w = constants.get(node.inputs[np.weight.input])!;
      const key = `${w.name}|${np.weight.axis}`;
      let qw = weights.get(key);
      if (!qw) {
        const q = quantizeWeight(w, np.weight.axis, spec.reduceRange);
        const c = q.scales.length;
        const dims = np.weight.axis === undefined ? [] : [c];
        const qName = constant(`${w.name}_quantized`, "int8", w.dims as number[], q.data);
        const sName = constant(`${w.name}_scale`, "float32", dims, dims.length ? q.scales : Float32Array.of(q.scales[0]));
        const zName = constant(`${w.name}_zero_point`, "int8", dims, new Int8Array(dims.length ? c : 1));
        qw = { name: fresh(`${w.name}_dequantized`), scales: q.scales };
        nodes.push(makeNode("DequantizeLinear", [qName, sName, zName], [qw.name], axisAttr(np.weight.axis), `${w.name}_DequantizeLinear`));
        weights.set(key, qw);
        weightCount++;
      }
      inputs[np.weight.input] = qw.name;
      if (np.bias !== undefined) {
        const b = constants.get(node.inputs[np.bias])!;
        const xScale = params.get(node.inputs[0])!.scale;
        const qb = quantizeBias(b, xScale, qw.scales);
        const qName = constant(`${b.name}_quantized_${nodeKey(node, index)}`, "int32", b.dims as number[], qb.data);
        const sName = constant(`${b.name}_scale_${nodeKey(node, index)}`, "float32", [qb.scales.length], qb.scales);
        const dq = fresh(`${b.name}_dequantized`);
        nodes.push(makeNode("DequantizeLinear", [qName, sName], [dq], { axis: attr.int(0) }, `${dq}_DequantizeLinear`));
        inputs[np.bias] = dq;
      }
      current = { ...current, inputs };
    }
    nodes.push(renameReads({ ...graph, nodes: [current], outputs: [] }, renames).nodes[0]);
    for (const out of current.outputs) if (plan.tensors.has(out)) nodes.push(...qdq(out));
  });

  const defined = new Set([...graph.inputs.map((i) => i.name), ...nodes.flatMap((n) => n.outputs)]);
  const result: Graph = {
    ...graph,
    nodes,
    initializers: [...graph.initializers, ...added],
    valueInfo: graph.valueInfo.filter((v) => defined.has(v.name)),
  };
  return {
    // The float weights the int8 copies replace are dropped (unless fp32 nodes still read them).
    graph: eliminateDeadNodes.run(result).graph,
    plan,
    params,
    summary:
      `QDQ: ${plan.nodes.size} nodes quantized (${spec.activations} activations, int8 weights` +
      `${spec.reduceRange ? " 7-bit" : ""}), ${plan.tensors.size} activations, ${weightCount} weights, ${plan.foldedRelus.size} Relus folded`,
  };
}

function axisAttr(axis: number | undefined): Record<string, ReturnType<typeof attr.int>> {
  return axis === undefined ? {} : { axis: attr.int(axis) };
}
