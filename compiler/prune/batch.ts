// Symbolic input dims (the batch) set to 1: random inputs, latency and
// exactness checks need fixed shapes.
import type { Model } from "../ir/index.ts";

export function batchOne(model: Model): Model {
  const inputs = model.graph.inputs.map((i) =>
    i.type?.shape ? { ...i, type: { ...i.type, shape: i.type.shape.map((d) => (typeof d === "number" ? d : 1)) } } : i,
  );
  return { ...model, graph: { ...model.graph, inputs } };
}
