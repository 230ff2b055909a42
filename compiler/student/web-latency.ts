// Latency where the model will run: onnxruntime-web's wasm build in Node, one
// thread (what the Worker uses), fp32 (SYSTEM.md: int8 is not faster there).
import * as ort from "onnxruntime-web/wasm";
import { encodeModel, type Model } from "../ir/index.ts";
import { seededRandom, uniform } from "../random.ts";

export interface WebLatencyOptions {
  readonly runs?: number;
  readonly warmup?: number;
}

/** Median milliseconds per run on a random clip; the model's inputs must have fixed shapes. */
export async function webLatency(model: Model, options: WebLatencyOptions = {}): Promise<number> {
  const { runs = 5, warmup = 1 } = options;
  ort.env.wasm.numThreads = 1;
  const session = await ort.InferenceSession.create(encodeModel(model), { logSeverityLevel: 3 });
  try {
    const random = seededRandom(1);
    const feeds = Object.fromEntries(
      model.graph.inputs
        .filter((i) => !model.graph.initializers.some((t) => t.name === i.name))
        .map((i) => {
          const dims = (i.type?.shape ?? []).map((d) => (typeof d === "number" ? d : 1));
          return [i.name, new ort.Tensor("float32", uniform(random, dims.reduce((p, d) => p * d, 1)), dims)];
        }),
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
