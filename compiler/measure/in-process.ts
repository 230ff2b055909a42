// Latency of a model in this process, in onnxruntime-node (native CPU
// kernels) or onnxruntime-web (the wasm build the Worker runs, here in Node),
// one thread by default: the median of timed runs after warm-up. Quick
// measures for choosing a student (compiler/student) and pruning to a latency
// (compiler/prune); latency.ts measures each model in a process of its own.
import * as ortNode from "onnxruntime-node";
import { batchOne, encodeModel, type Graph, type Model } from "../ir/index.ts";
import { randomInputs } from "../testing/parity.ts";
import type { Runtime } from "./latency.ts";

export type { Runtime };

export interface LatencyOptions {
  readonly runs?: number;
  readonly warmup?: number;
  readonly threads?: number;
  readonly runtime?: Runtime;
  /** Outputs to fetch (default: all); onnxruntime runs only the nodes they need. */
  readonly fetches?: readonly string[];
}

/** onnxruntime-node's API; onnxruntime-web's is the same shape. */
type Ort = typeof ortNode;

async function runtimeModule(runtime: Runtime, threads: number): Promise<Ort> {
  if (runtime === "node") return ortNode;
  const web = (await import("onnxruntime-web/wasm")) as unknown as Ort;
  web.env.wasm.numThreads = threads;
  return web;
}

/** A session on a random clip (batch 1) that times single runs. */
export interface Timer {
  readonly time: () => Promise<number>;
  readonly release: () => Promise<void>;
}

export async function openTimer(model: Model, options: Pick<LatencyOptions, "threads" | "runtime" | "fetches"> = {}): Promise<Timer> {
  const { threads = 1, runtime = "node", fetches } = options;
  const ort = await runtimeModule(runtime, threads);
  const fixed = batchOne(model);
  const session = await ort.InferenceSession.create(encodeModel(fixed), {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    logSeverityLevel: 3,
  });
  const feeds = Object.fromEntries(
    randomInputs(fixed, 1).map((t) => [t.name, new ort.Tensor("float32", t.data as Float32Array, [...t.dims])]),
  );
  return {
    time: async () => {
      const start = performance.now();
      await (fetches ? session.run(feeds, [...fetches]) : session.run(feeds));
      return performance.now() - start;
    },
    release: () => session.release(),
  };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Median milliseconds per run of the model on a random clip (batch 1), after warm-up runs. */
export async function measureLatency(model: Model, options: LatencyOptions = {}): Promise<number> {
  const { runs = 10, warmup = 2 } = options;
  const timer = await openTimer(model, options);
  try {
    for (let i = 0; i < warmup; i++) await timer.time();
    const times: number[] = [];
    for (let i = 0; i < runs; i++) times.push(await timer.time());
    return median(times);
  } finally {
    await timer.release();
  }
}

/** A measure for pruneToLatency: the graph in `model`'s frame. */
export function latencyOf(model: Model, options: LatencyOptions = {}): (graph: Graph) => Promise<number> {
  return (graph) => measureLatency({ ...model, graph }, options);
}
