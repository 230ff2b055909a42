// Shape inference against onnxruntime: every node output becomes a graph
// output, the model runs on seeded random inputs, and each value's inferred
// type is set beside the one onnxruntime produced.
import { encodeModel, inferTypes, type Graph, type Model, type TensorType } from "../ir/index.ts";
import { runModel } from "../runtime.ts";
import { randomInputs } from "./parity.ts";

export interface ShapeComparison {
  readonly name: string;
  readonly inferred: TensorType | undefined;
  readonly actual: { readonly dtype: string; readonly shape: readonly number[] };
}

/** Makes every node output a graph output, so onnxruntime reports every shape. */
export function exposeAll(graph: Graph): Graph {
  const outputs = graph.nodes.flatMap((n) => n.outputs).filter((o) => o !== "");
  return { ...graph, outputs: outputs.map((name) => ({ name })) };
}

export async function compareWithOnnxruntime(model: Model, source = "model"): Promise<ShapeComparison[]> {
  const exposed = { ...model, graph: exposeAll(model.graph) };
  const inferred = inferTypes(exposed.graph, source);
  const actual = await runModel(encodeModel(exposed), randomInputs(exposed, 1));
  return actual.map((t) => ({ name: t.name, inferred: inferred.get(t.name), actual: { dtype: t.dtype, shape: t.dims } }));
}

/** The model with its symbolic input dims (a dynamic batch) set to `size`. */
export function fixSymbolicDims(model: Model, size = 1): Model {
  const inputs = model.graph.inputs.map((i) =>
    i.type?.shape ? { ...i, type: { ...i.type, shape: i.type.shape.map((d) => (typeof d === "number" ? d : size)) } } : i,
  );
  return { ...model, graph: { ...model.graph, inputs } };
}
