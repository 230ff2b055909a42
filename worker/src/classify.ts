// Model input → scores → top-k labels.
import type { Manifest } from "../../contract/manifest.ts";
import { serverError } from "./errors.ts";
import type { OutputTensor, Session } from "./ort.ts";

export interface Prediction {
  label: string;
  index: number;
  score: number;
}

/** What runs a model: the Worker's ORT session, or any object with its run() (onnxruntime-node in `npm run tag`). */
export type ModelRunner = Pick<Session, "run">;

export interface ModelOutput {
  /** The model's raw output for one clip: one value per label. */
  scores: Float32Array;
  /** With `withClassMap`: the manifest's class map [1, K, T', H', W']. */
  classMap?: OutputTensor;
}

/** Runs one clip; the class map is fetched only when asked for (the manifest must name one). */
export async function runModel(
  session: ModelRunner,
  manifest: Manifest,
  input: Float32Array,
  dims: readonly number[],
  withClassMap = false,
): Promise<ModelOutput> {
  const { output } = manifest;
  const names = withClassMap && output.classMap ? [output.name, output.classMap] : [output.name];
  const [scores, classMap] = await session.run(manifest.input.name, input, dims, names);
  if (scores.data.length !== manifest.labels.length) {
    throw serverError(
      "model_output_mismatch",
      `model ${manifest.id}@${manifest.version} gave ${scores.data.length} outputs for ${manifest.labels.length} labels`,
    );
  }
  return { scores: scores.data, classMap };
}

/** Probabilities: softmax of logits (shifted by the max for stability), or the output as is. */
export function probabilities(output: Float32Array, kind: Manifest["output"]["kind"]): Float64Array {
  if (kind === "probabilities") return Float64Array.from(output);
  let max = -Infinity;
  for (const v of output) max = Math.max(max, v);
  const exp = Float64Array.from(output, (v) => Math.exp(v - max));
  const sum = exp.reduce((a, b) => a + b, 0);
  return exp.map((v) => v / sum);
}

/** The k best labels, highest score first; equal scores keep label order. */
export function topK(scores: Float64Array, labels: readonly string[], k: number): Prediction[] {
  return Array.from(scores, (score, index) => ({ label: labels[index], index, score }))
    .sort((a, b) => b.score - a.score || a.index - b.index)
    .slice(0, k);
}
