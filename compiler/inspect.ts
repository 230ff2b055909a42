// `compile inspect`: the graph as text, then the multiply-adds of each layer,
// and a summary a person can scan: input/output spec, parameters, ops,
// multiply-adds and activation memory (per clip: symbolic dims such as the
// batch taken as 1).
import {
  defaultOpset, describeNode, formatType, graphCost, inferShapes, inferTypes, OnnxError, printGraph, withSymbolicDimsAsOne,
  type Model, type TensorType, type ValueInfo,
} from "./ir/index.ts";

export function inspectModel(model: Model, source: string): string {
  const { graph } = model;
  let shaped = graph;
  let types: Map<string, TensorType> | undefined;
  let shapeNote = "";
  try {
    shaped = inferShapes(graph, source);
    types = inferTypes(withSymbolicDimsAsOne(graph), source);
  } catch (e) {
    // The graph still prints, with the types it declares.
    if (!(e instanceof OnnxError)) throw e;
    shapeNote = `shapes: not inferred (${e.problems.join("; ")})`;
  }
  const initializers = new Set(graph.initializers.map((t) => t.name));
  const signature = (values: readonly ValueInfo[]) =>
    values.map((v) => `%${v.name}: ${formatType(v.type)}`).join(", ");
  const histogram = new Map<string, number>();
  for (const n of graph.nodes) {
    const op = n.domain ? `${n.domain}.${n.op}` : n.op;
    histogram.set(op, (histogram.get(op) ?? 0) + 1);
  }
  const ops = [...histogram].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([op, n]) => `${op} ${n}`);
  const producer = [model.producerName, model.producerVersion].filter(Boolean).join(" ") || "unknown";
  const cost = graphCost(graph, types ?? new Map());
  const layerLines = types ? layerTable(cost.layers, types, cost.macs) : [];
  const { activations: act } = cost;
  const unknownNote = (n: number, what: string) => (n ? ` (${n} ${what} of unknown size left out)` : "");
  return [
    printGraph(shaped),
    "",
    ...(layerLines.length ? ["multiply-adds per layer (per clip):", ...layerLines, ""] : []),
    `${source}: IR ${model.irVersion}, opset ${defaultOpset(model)}, producer ${producer}`,
    `inputs:      ${signature(graph.inputs.filter((i) => !initializers.has(i.name)))}`,
    `outputs:     ${signature(graph.outputs)}`,
    `parameters:  ${cost.parameters.toLocaleString("en-US")} in ${graph.initializers.length} initializers` +
      (histogram.has("Constant") ? " and Constant nodes" : ""),
    `nodes:       ${graph.nodes.length} (${ops.join(", ")})`,
    ...(types
      ? [
          `multiply-adds: ${cost.macs.toLocaleString("en-US")} per clip (${si(cost.macs)}MACs; Conv, MatMul, Gemm, Einsum)` +
            unknownNote(cost.uncounted, "layers"),
          `activations: peak ${bytes(act.peakBytes)} live at ${describeNode(graph.nodes[act.peakAt], act.peakAt)}, ` +
            `${bytes(act.totalBytes)} produced in all (graph order, per clip)${unknownNote(act.unknown, "values")}`,
        ]
      : []),
    ...(shapeNote ? [shapeNote] : []),
  ].join("\n");
}

/** One line per layer that does multiply-adds: position, op, name, output type, count and share. */
function layerTable(layers: ReturnType<typeof graphCost>["layers"], types: ReadonlyMap<string, TensorType>, total: number): string[] {
  const rows = layers.map(({ index, node, macs }) => [
    `#${index}`,
    node.op,
    node.name || `%${node.outputs[0]}`,
    formatType(types.get(node.outputs[0])),
    macs === undefined ? "?" : macs.toLocaleString("en-US"),
    macs === undefined || total === 0 ? "" : `${((100 * macs) / total).toFixed(1)}%`,
  ]);
  const widths = rows.reduce((w, r) => r.map((c, i) => Math.max(c.length, w[i] ?? 0)), [] as number[]);
  // Numbers right-aligned, text left-aligned.
  return rows.map((r) => `  ${r.map((c, i) => (i >= 4 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ").trimEnd()}`);
}

function si(n: number): string {
  const [value, unit] = n >= 1e9 ? [n / 1e9, "G"] : n >= 1e6 ? [n / 1e6, "M"] : n >= 1e3 ? [n / 1e3, "k"] : [n, ""];
  return `${value.toPrecision(4).replace(/\.?0+$/, "")} ${unit}`;
}

function bytes(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(2)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;
}
