// `compile inspect`: the graph as text plus a summary a person can scan.
import {
  defaultOpset, elementCount, formatType, inferShapes, OnnxError, printGraph, type Model, type ValueInfo,
} from "./ir/index.ts";

export function inspectModel(model: Model, source: string): string {
  const { graph } = model;
  let shaped = graph;
  let shapeNote = "";
  try {
    shaped = inferShapes(graph, source);
  } catch (e) {
    // The graph still prints, with the types it declares.
    if (!(e instanceof OnnxError)) throw e;
    shapeNote = `shapes: not inferred (${e.problems.join("; ")})`;
  }
  const initializers = new Set(graph.initializers.map((t) => t.name));
  const signature = (values: readonly ValueInfo[]) =>
    values.map((v) => `%${v.name}: ${formatType(v.type)}`).join(", ");
  const params = graph.initializers.reduce((n, t) => n + elementCount(t.dims), 0);
  const histogram = new Map<string, number>();
  for (const n of graph.nodes) {
    const op = n.domain ? `${n.domain}.${n.op}` : n.op;
    histogram.set(op, (histogram.get(op) ?? 0) + 1);
  }
  const ops = [...histogram].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([op, n]) => `${op} ${n}`);
  const producer = [model.producerName, model.producerVersion].filter(Boolean).join(" ") || "unknown";
  return [
    printGraph(shaped),
    "",
    `${source}: IR ${model.irVersion}, opset ${defaultOpset(model)}, producer ${producer}`,
    `inputs:     ${signature(graph.inputs.filter((i) => !initializers.has(i.name)))}`,
    `outputs:    ${signature(graph.outputs)}`,
    `parameters: ${params.toLocaleString("en-US")} in ${graph.initializers.length} initializers`,
    `nodes:      ${graph.nodes.length} (${ops.join(", ")})`,
    ...(shapeNote ? [shapeNote] : []),
  ].join("\n");
}
