// Latency of a graph in onnxruntime-node (one thread, the CPU kernels that
// onnxruntime-web compiles to wasm): the median of timed runs after warm-up.
import * as ort from "onnxruntime-node";
import { encodeModel, type Graph, type Model } from "../ir/index.ts";
import { randomInputs } from "../testing/parity.ts";
import { batchOne } from "./batch.ts";

export interface LatencyOptions {
  readonly runs?: number;
  readonly warmup?: number;
  readonly threads?: number;
}

/** Median milliseconds per run of the model on a random clip (batch 1). */
export async function measureLatency(model: Model, options: LatencyOptions = {}): Promise<number> {
  const { runs = 10, warmup = 2, threads = 1 } = options;
  const fixed = batchOne(model);
  const session = await ort.InferenceSession.create(encodeModel(fixed), {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    logSeverityLevel: 3,
  });
  try {
    const feeds = Object.fromEntries(
      randomInputs(fixed, 1).map((t) => [t.name, new ort.Tensor("float32", t.data as Float32Array, [...t.dims])]),
    );
    const times: number[] = [];
    for (let i = 0; i < warmup + runs; i++) {
      const start = performance.now();
      await session.run(feeds);
      if (i >= warmup) times.push(performance.now() - start);
    }
    times.sort((a, b) => a - b);
    return times[Math.floor(times.length / 2)];
  } finally {
    await session.release();
  }
}

/** A measure for pruneToLatency: the graph in `model`'s frame. */
export function latencyOf(model: Model, options: LatencyOptions = {}): (graph: Graph) => Promise<number> {
  return (graph) => measureLatency({ ...model, graph }, options);
}
