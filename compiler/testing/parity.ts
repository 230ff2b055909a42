// Runs two models in onnxruntime on the same seeded random inputs and
// reports how far their outputs are apart.
import { encodeModel, type Model, type Tensor } from "../ir/index.ts";
import { seededRandom, uniform } from "../random.ts";
import { maxAbsDiff, runModel } from "../runtime.ts";

/** Random float32 inputs for a model's (non-initializer) inputs, which must have fixed shapes. */
export function randomInputs(model: Model, seed: number): Tensor[] {
  const random = seededRandom(seed);
  const initializers = new Set(model.graph.initializers.map((t) => t.name));
  return model.graph.inputs
    .filter((i) => !initializers.has(i.name))
    .map((i) => {
      const dims = (i.type?.shape ?? []).map((d) => {
        if (typeof d !== "number") throw new Error(`input %${i.name} needs a fixed shape`);
        return d;
      });
      return { name: i.name, dtype: "float32", dims, data: uniform(random, dims.reduce((a, b) => a * b, 1)) };
    });
}

/** Max |difference| over all outputs (matched by name) of two models on the same inputs. */
export async function outputDifference(before: Model, after: Model, seed = 7): Promise<number> {
  const inputs = randomInputs(before, seed);
  const [a, b] = await Promise.all([runModel(encodeModel(before), inputs), runModel(encodeModel(after), inputs)]);
  if (a.length !== b.length) throw new Error(`output counts differ: ${a.length} vs ${b.length}`);
  return Math.max(...a.map((t) => maxAbsDiff(t, b.find((u) => u.name === t.name)!)));
}
