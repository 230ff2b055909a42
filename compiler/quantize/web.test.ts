// The quantized forms load and run in onnxruntime-web's wasm build (what the
// Worker runs), with the same answers as in onnxruntime-node.
import * as ort from "onnxruntime-web/wasm";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { encodeModel, loadModel, type Model } from "../ir/index.ts";
import { COMPILE_PASSES, runPasses } from "../pipeline.ts";
import { logitsOf } from "./evaluate.ts";
import { calibrate, quantize, QuantizeFormat } from "./index.ts";
import { movingClips } from "./test-support.ts";

async function webLogits(bytes: Uint8Array, input: { name: string; dims: readonly number[]; data: unknown }): Promise<Float32Array> {
  ort.env.wasm.numThreads = 1;
  const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  try {
    const out = await session.run({ [input.name]: new ort.Tensor("float32", input.data as Float32Array, [...input.dims]) });
    return out[session.outputNames[0]].data as Float32Array;
  } finally {
    await session.release();
  }
}

describe("quantized models in onnxruntime-web (wasm, 1 thread)", () => {
  it.each(QuantizeFormat.options)("%s: the default model runs and matches onnxruntime-node", async (format) => {
    const m0 = await loadModel(resolve(import.meta.dirname, "../../models/default/model.onnx"));
    const model: Model = { ...m0, graph: runPasses(m0.graph, COMPILE_PASSES).graph };
    const calibration = await calibrate(model, movingClips(4, [1, 3, 8, 64, 64], 1).map((c) => c.input));
    const bytes = encodeModel(quantize(model, calibration, { format, method: "minmax" }).model);
    const [clip] = movingClips(1, [1, 3, 8, 64, 64], 2);
    const [node] = await logitsOf(bytes, [clip]);
    const web = await webLogits(bytes, clip.input);
    const diff = Math.max(...web.map((v, i) => Math.abs(v - node[i])));
    console.log(`default ${format}: |web - node| max ${diff.toExponential(2)}`);
    expect(web.length).toBe(8);
    expect(diff).toBeLessThan(0.05);
  }, 120_000);
});
