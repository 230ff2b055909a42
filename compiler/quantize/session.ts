// One onnxruntime-node session reused across many clips (runtime.ts's runModel
// opens a session per call, too slow for calibration and evaluation loops).
import * as ort from "onnxruntime-node";
import type { Tensor } from "../ir/index.ts";

export interface Session {
  run(inputs: readonly Tensor[]): Promise<Map<string, Float32Array>>;
  release(): Promise<void>;
}

export async function openSession(bytes: Uint8Array): Promise<Session> {
  const session = await ort.InferenceSession.create(bytes, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    logSeverityLevel: 3,
  });
  return {
    async run(inputs) {
      const feeds = Object.fromEntries(inputs.map((t) => [t.name, new ort.Tensor("float32", t.data as Float32Array, [...t.dims])]));
      const results = await session.run(feeds);
      return new Map(session.outputNames.map((n) => [n, results[n].data as Float32Array]));
    },
    release: () => session.release(),
  };
}

/** Runs `bytes` on every clip, handing each clip's outputs to `each`. */
export async function forEachRun(
  bytes: Uint8Array,
  inputs: readonly Tensor[],
  each: (outputs: Map<string, Float32Array>, index: number) => void,
): Promise<void> {
  const session = await openSession(bytes);
  try {
    for (let i = 0; i < inputs.length; i++) each(await session.run([inputs[i]]), i);
  } finally {
    await session.release();
  }
}
