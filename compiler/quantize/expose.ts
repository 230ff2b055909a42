// IR rewrite for calibration: makes intermediate values graph outputs so one
// onnxruntime run returns every activation the quantizer needs ranges for.
import type { Graph } from "../ir/index.ts";

export function exposeValues(graph: Graph, names: readonly string[]): Graph {
  const present = new Set(graph.outputs.map((o) => o.name));
  const added = names.filter((n) => !present.has(n)).map((name) => ({ name, type: { dtype: "float32" as const } }));
  return { ...graph, outputs: [...graph.outputs, ...added] };
}
