// Running models in onnxruntime-node (the same kernels onnxruntime-web
// compiles to wasm): parity checks and pass tests compare real outputs.
import * as ort from "onnxruntime-node";
import { elementCount, type Tensor } from "./ir/index.ts";

const OPTIONS: ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  logSeverityLevel: 3, // errors only
};

/** Runs a serialized model on the given inputs; returns every graph output. */
export async function runModel(bytes: Uint8Array, inputs: readonly Tensor[]): Promise<Tensor[]> {
  const session = await ort.InferenceSession.create(bytes, OPTIONS);
  try {
    const feeds = Object.fromEntries(
      inputs.map((t) => [t.name, new ort.Tensor(t.dtype as ort.Tensor.Type, t.data as ort.Tensor.DataType, [...t.dims])]),
    );
    const results = await session.run(feeds);
    return session.outputNames.map((name) => {
      const r = results[name];
      return { name, dtype: r.type as Tensor["dtype"], dims: r.dims.map(Number), data: r.data as Tensor["data"] };
    });
  } finally {
    await session.release();
  }
}

/** The largest absolute elementwise difference between two float tensors of the same shape; Infinity if either has a NaN. */
export function maxAbsDiff(a: Tensor, b: Tensor): number {
  if (a.dims.join() !== b.dims.join()) {
    throw new Error(`cannot compare %${a.name} [${a.dims}] with %${b.name} [${b.dims}]: shapes differ`);
  }
  const x = a.data as Float32Array;
  const y = b.data as Float32Array;
  let max = 0;
  for (let i = 0; i < elementCount(a.dims); i++) {
    const d = Math.abs(x[i] - y[i]);
    if (Number.isNaN(d)) return Infinity;
    if (d > max) max = d;
  }
  return max;
}
