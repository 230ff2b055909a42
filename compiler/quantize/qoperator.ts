// The QOperator form, from a QDQ graph: each DQ -> op -> Q group with an
// integer kernel in onnxruntime's CPU (and wasm) build becomes that kernel,
// reading and writing the quantized values directly:
//   Conv -> QLinearConv, MatMul -> QLinearMatMul (default domain);
//   Gemm -> QGemm, Add/Mul -> QLinearAdd/QLinearMul, Sigmoid -> QLinearSigmoid,
//   AveragePool/GlobalAveragePool -> QLinearAveragePool/QLinearGlobalAveragePool (com.microsoft).
// Ops without such a kernel keep DQ -> fp32 op -> Q. The Q and DQ nodes left
// without readers are removed.
import { attr, isDefaultDomain, producerIndex, useCounts, type Graph, type Node } from "../ir/index.ts";
import { eliminateDeadNodes } from "../passes/eliminate-dead-nodes.ts";

export const MS_DOMAIN = "com.microsoft";

const KERNELS: Readonly<Record<string, { op: string; domain: string }>> = {
  Conv: { op: "QLinearConv", domain: "" },
  MatMul: { op: "QLinearMatMul", domain: "" },
  Gemm: { op: "QGemm", domain: MS_DOMAIN },
  Add: { op: "QLinearAdd", domain: MS_DOMAIN },
  Mul: { op: "QLinearMul", domain: MS_DOMAIN },
  Sigmoid: { op: "QLinearSigmoid", domain: MS_DOMAIN },
  AveragePool: { op: "QLinearAveragePool", domain: MS_DOMAIN },
  GlobalAveragePool: { op: "QLinearGlobalAveragePool", domain: MS_DOMAIN },
};

export function toQOperator(qdq: Graph): { graph: Graph; summary: string } {
  const producers = producerIndex(qdq);
  const uses = useCounts(qdq);
  const readers = new Map<string, number[]>();
  qdq.nodes.forEach((n, i) => n.inputs.forEach((name) => readers.set(name, [...(readers.get(name) ?? []), i])));
  const graphOutputs = new Set(qdq.outputs.map((o) => o.name));
  const dqOf = (name: string) => {
    const i = producers.get(name);
    const n = i === undefined ? undefined : qdq.nodes[i];
    return n && n.op === "DequantizeLinear" && isDefaultDomain(n) ? n : undefined;
  };
  const replaced = new Map<number, Node>();
  const removed = new Set<number>(); // the Q nodes whose output a kernel now writes
  const counts = new Map<string, number>();

  qdq.nodes.forEach((node, index) => {
    const kernel = isDefaultDomain(node) ? KERNELS[node.op] : undefined;
    if (!kernel) return;
    const inputs = node.inputs.map((name) => (name === "" ? undefined : dqOf(name)));
    if (inputs.some((dq, i) => node.inputs[i] !== "" && !dq)) return;
    const dq = inputs as Node[];
    // The output: read only by one QuantizeLinear; Gemm may also write fp32.
    const out = node.outputs[0];
    const qIndex = uses.get(out) === 1 && !graphOutputs.has(out) ? readers.get(out)?.[0] : undefined;
    const q = qIndex === undefined ? undefined : qdq.nodes[qIndex];
    const quantizedOut = q?.op === "QuantizeLinear" && isDefaultDomain(q) ? q : undefined;
    if (!quantizedOut && node.op !== "Gemm") return;
    const x = (d: Node) => [d.inputs[0], d.inputs[1], d.inputs[2] ?? ""];
    const y = quantizedOut ? [quantizedOut.inputs[1], quantizedOut.inputs[2] ?? ""] : [];
    const output = quantizedOut ? quantizedOut.outputs[0] : out;
    let newInputs: string[];
    let attributes = node.attributes;
    switch (node.op) {
      case "Conv":
        newInputs = [...x(dq[0]), ...x(dq[1]), ...y, ...(dq[2] ? [dq[2].inputs[0]] : [])];
        break;
      case "Gemm":
        newInputs = [...x(dq[0]), ...x(dq[1]), dq[2] ? dq[2].inputs[0] : "", ...y];
        break;
      case "Sigmoid":
      case "AveragePool":
      case "GlobalAveragePool":
        newInputs = [...x(dq[0]), ...y];
        if (node.op !== "Sigmoid") attributes = { ...attributes, channels_last: attr.int(0) };
        break;
      default: // MatMul, Add, Mul: two quantized inputs
        newInputs = [...x(dq[0]), ...x(dq[1]), ...y];
    }
    replaced.set(index, { ...node, op: kernel.op, domain: kernel.domain, inputs: newInputs, outputs: [output], attributes });
    if (qIndex !== undefined && quantizedOut) removed.add(qIndex);
    counts.set(kernel.op, (counts.get(kernel.op) ?? 0) + 1);
  });

  const graph = eliminateDeadNodes.run({
    ...qdq,
    nodes: qdq.nodes.flatMap((n, i) => (removed.has(i) ? [] : [replaced.get(i) ?? n])),
  }).graph;
  const kept = graph.nodes.filter((n) => isDefaultDomain(n) && KERNELS[n.op]).length;
  return {
    graph,
    summary:
      `QOperator: ${[...counts].map(([op, n]) => `${n} ${op}`).join(", ") || "no integer kernels"}` +
      `; ${kept} ${kept === 1 ? "op" : "ops"} of those kinds left fp32`,
  };
}

/** The model's opset imports with com.microsoft added when the graph uses it. */
export function opsetsFor(graph: Graph, opsets: readonly { domain: string; version: number }[]): { domain: string; version: number }[] {
  const uses = graph.nodes.some((n) => n.domain === MS_DOMAIN);
  const has = opsets.some((o) => o.domain === MS_DOMAIN);
  return uses && !has ? [...opsets, { domain: MS_DOMAIN, version: 1 }] : [...opsets];
}
