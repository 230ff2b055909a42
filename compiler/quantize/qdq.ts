// The QDQ form: every planned activation T gets T -> QuantizeLinear ->
// DequantizeLinear right after it is produced and every reader reads the
// dequantized value; planned weights become int8 initializers (per channel)
// behind a DequantizeLinear, biases int32. onnxruntime fuses DQ -> op -> Q
// groups into integer kernels; elsewhere the graph computes in fp32.
import { attr, constantInitializers, makeNode, renameReads, type Graph, type Node } from "../ir/index.ts";
import { eliminateDeadNodes } from "../passes/eliminate-dead-nodes.ts";
import { axisAttr, dequantizedWeight, tensorSink } from "./emit.ts";
import { activationParams, quantizeBias, type ActivationParams } from "./params.ts";
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
  const sink = tensorSink(graph);
  const { fresh, constant, added } = sink;
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
        const dq = dequantizedWeight(sink, w, np.weight.axis, spec.reduceRange);
        qw = { name: dq.name, scales: dq.scales };
        nodes.push(dq.node);
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
