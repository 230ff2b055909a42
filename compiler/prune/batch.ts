// Symbolic input dims (the batch) set to 1: random inputs, latency, costs and
// exactness checks need fixed shapes.
import type { Graph, Model } from "../ir/index.ts";

export function batchOneGraph(graph: Graph): Graph {
  const inputs = graph.inputs.map((i) =>
    i.type?.shape ? { ...i, type: { ...i.type, shape: i.type.shape.map((d) => (typeof d === "number" ? d : 1)) } } : i,
  );
  return { ...graph, inputs };
}

export function batchOne(model: Model): Model {
  return { ...model, graph: batchOneGraph(model.graph) };
}
