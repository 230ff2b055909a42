// quantize() end to end in onnxruntime-node: the compiler's small video model
// and the bundled default model, every format, calibrated on one set of clips
// and compared with fp32 on another. Prints top-1 agreement and max |Δlogit|.
import { describe, expect, it } from "vitest";
import { encodeModel, loadModel, type Model } from "../ir/index.ts";
import { COMPILE_PASSES, runPasses } from "../pipeline.ts";
import { videoModel } from "../testing/video-model.ts";
import { calibrate, quantize, type QuantizeOptions } from "./index.ts";
import { evaluate, logitsOf } from "./evaluate.ts";
import { movingClips } from "./test-support.ts";
import { resolve } from "node:path";

const compiled = (m: Model): Model => ({ ...m, graph: runPasses(m.graph, COMPILE_PASSES, () => {}).graph });

function weightBytes(m: Model): number {
  return m.graph.initializers.reduce((sum, t) => sum + (t.data as Float32Array).byteLength, 0);
}

async function measure(model: Model, options: QuantizeOptions, calibrationClips: number, testClips: number) {
  const shape = model.graph.inputs[0].type!.shape!.map((d) => (typeof d === "number" ? d : 1));
  const calib = movingClips(calibrationClips, shape, 1, model.graph.inputs[0].name);
  const held = movingClips(testClips, shape, 2, model.graph.inputs[0].name);
  const calibration = await calibrate(model, calib.map((c) => c.input));
  const before = JSON.stringify(encodeModel(model).length);
  const result = quantize(model, calibration, options);
  expect(JSON.stringify(encodeModel(model).length)).toBe(before); // input untouched
  const reference = await logitsOf(encodeModel(model), held);
  const evaluation = await evaluate(encodeModel(result.model), held, reference);
  return { result, evaluation };
}

describe("quantize: the compiler's small video model", () => {
  const model = compiled(videoModel());
  for (const format of ["qdq", "qoperator", "weight-only"] as const) {
    for (const method of ["minmax", "percentile", "entropy"] as const) {
      it(`${format} / ${method}: close to fp32 in onnxruntime`, async () => {
        const { result, evaluation } = await measure(model, { format, method }, 8, 8);
        console.log(`video-model ${format} ${method}: agreement ${evaluation.agreement}% max|Δ| ${evaluation.maxAbsDelta.toFixed(4)} — ${result.summary}`);
        expect(evaluation.maxAbsDelta).toBeLessThan(format === "weight-only" ? 0.02 : 0.25);
        const ops = new Set(result.graph.nodes.map((n) => n.op));
        if (format === "qdq") expect([...ops]).toEqual(expect.arrayContaining(["QuantizeLinear", "DequantizeLinear", "Conv"]));
        if (format === "qoperator") {
          expect([...ops]).toEqual(expect.arrayContaining(["QLinearConv", "QGemm", "QLinearSigmoid", "QLinearMul", "QLinearGlobalAveragePool"]));
          expect(ops.has("Conv")).toBe(false);
        }
        if (format === "weight-only") expect(ops.has("QuantizeLinear")).toBe(false);
      });
    }
  }

  it("keeps excluded layers in fp32 and folds a Relu into the uint8 quantization", async () => {
    const { result } = await measure(model, { format: "qoperator", exclude: ["Conv_4"] }, 4, 2);
    const ops = result.graph.nodes.map((n) => n.op);
    expect(ops.filter((o) => o === "Conv")).toHaveLength(1);
    expect(ops.filter((o) => o === "QLinearConv")).toHaveLength(1);
    const withRelu = await measure(model, { format: "qdq" }, 4, 2);
    expect(withRelu.result.graph.nodes.some((n) => n.op === "Relu")).toBe(false);
    const int8 = await measure(model, { format: "qdq", activations: "int8" }, 4, 2);
    expect(int8.result.graph.nodes.some((n) => n.op === "Relu")).toBe(true); // symmetric: zero point 0 does not clamp
    expect(int8.evaluation.maxAbsDelta).toBeLessThan(0.25);
  });
});

describe("quantize: the bundled default model (X3D tiny, 8 classes)", () => {
  // One calibration (16 clips) and one fp32 reference (16 other clips) for every candidate.
  const setup = (async () => {
    const model = compiled(await loadModel(resolve(import.meta.dirname, "../../models/default/model.onnx")));
    const calibration = await calibrate(model, movingClips(16, [1, 3, 8, 64, 64], 1).map((c) => c.input));
    const held = movingClips(16, [1, 3, 8, 64, 64], 2);
    return { model, calibration, held, reference: await logitsOf(encodeModel(model), held) };
  })();
  const cases = [
    ["qdq", "minmax"], ["qdq", "entropy"], ["qdq", "percentile"], ["qoperator", "minmax"], ["qoperator", "entropy"], ["weight-only", "minmax"],
  ] as const;
  it.each(cases)("%s / %s: agrees with fp32 on realistic clips, weights ~4x smaller", async (format, method) => {
    const { model, calibration, held, reference } = await setup;
    const result = quantize(model, calibration, { format, method });
    const evaluation = await evaluate(encodeModel(result.model), held, reference);
    const ratio = weightBytes(model) / weightBytes(result.model);
    const int8 = result.model.graph.initializers.filter((t) => t.dtype === "int8" && !t.name.endsWith("_zero_point")).reduce((sum, t) => sum + t.data.length, 0);
    console.log(
      `default ${format} ${method}: agreement ${evaluation.agreement}% max|Δlogit| ${evaluation.maxAbsDelta.toFixed(3)} ` +
        `mean|Δ| ${evaluation.meanAbsDelta.toFixed(3)}; weights ${weightBytes(model)} -> ${weightBytes(result.model)} B (${ratio.toFixed(2)}x, int8 ${int8} B); ` +
        `file ${encodeModel(model).length} -> ${encodeModel(result.model).length} B — ${result.summary}`,
    );
    expect(evaluation.agreement).toBeGreaterThanOrEqual(75);
    // Every weight is int8 (a quarter of its fp32 bytes); scales, zero points and int32 biases come on top.
    expect(int8 * 4).toBeLessThanOrEqual(weightBytes(model));
    expect(int8 * 4).toBeGreaterThan(0.95 * weightBytes(model));
    expect(ratio).toBeGreaterThan(format === "qdq" ? 2.9 : 3.2);
  }, 120_000);
});
