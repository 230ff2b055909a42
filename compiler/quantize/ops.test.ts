// Op coverage beyond the video models: 2D and grouped Conv, Gemm without
// transB, MatMul of two activations, AveragePool, Add and Mul of two
// activations. Each form runs in onnxruntime-node close to fp32, and the
// QOperator form uses the integer kernel for each.
import { describe, expect, it } from "vitest";
import { attr, encodeModel, GraphBuilder, makeModel } from "../ir/index.ts";
import { seededRandom, uniform } from "../random.ts";
import { evaluate, logitsOf } from "./evaluate.ts";
import { calibrate, quantize } from "./index.ts";

function opsModel() {
  const random = seededRandom(4);
  const b = new GraphBuilder("ops");
  const w = (name: string, dims: number[]) => b.initializer(name, "float32", dims, uniform(random, dims.reduce((p, d) => p * d, 1), -0.5, 0.5));
  const x = b.input("x", "float32", [1, 4, 8, 8]);
  const conv = b.node("Conv", [x, w("c.w", [8, 4, 3, 3]), w("c.b", [8])], { pads: attr.ints([1, 1, 1, 1]) });
  const grouped = b.node("Conv", [conv, w("g.w", [8, 4, 1, 1])], { group: attr.int(2) });
  const pooled = b.node("AveragePool", [grouped], { kernel_shape: attr.ints([2, 2]), strides: attr.ints([2, 2]) });
  const sum = b.node("Add", [pooled, b.node("Mul", [pooled, b.node("Sigmoid", [pooled])])]);
  const flat = b.node("Reshape", [sum, b.initializer("shape", "int64", [2], BigInt64Array.of(8n, 16n))]);
  const gram = b.node("MatMul", [flat, b.node("Transpose", [flat], { perm: attr.ints([1, 0]) })]);
  const out = b.node("Gemm", [gram, w("fc.w", [8, 5]), w("fc.b", [5])], {}, ["y"]);
  b.output(out, "float32", [8, 5]);
  return makeModel(b.build());
}

describe("quantize: op coverage", () => {
  it("refuses to exclude a node the model does not have", async () => {
    const m = opsModel();
    const calibration = await calibrate(m, [{ name: "x", dtype: "float32", dims: [1, 4, 8, 8], data: new Float32Array(256) }]);
    expect(() => quantize(m, calibration, { exclude: ["Conv_0", "nope"] })).toThrow('exclude: no node "nope" in the model');
  });

  const model = opsModel();
  const random = seededRandom(9);
  const clip = (i: number) => ({ source: `r${i}`, input: { name: "x", dtype: "float32" as const, dims: [1, 4, 8, 8], data: uniform(random, 256) } });
  const calib = Array.from({ length: 8 }, (_, i) => clip(i));
  const held = Array.from({ length: 4 }, (_, i) => clip(100 + i));

  const cases = [["qdq", "uint8"], ["qoperator", "uint8"], ["weight-only", "uint8"], ["qdq", "int8"], ["qoperator", "int8"]] as const;
  it.each(cases)("%s, %s activations: runs close to fp32", async (format, activations) => {
    const calibration = await calibrate(model, calib.map((c) => c.input));
    const result = quantize(model, calibration, { format, method: "minmax", activations });
    const reference = await logitsOf(encodeModel(model), held);
    const e = await evaluate(encodeModel(result.model), held, reference);
    const peak = Math.max(...reference.flatMap((r) => [...r].map(Math.abs)));
    console.log(`ops ${format} ${activations}: max |Δ| ${e.maxAbsDelta.toFixed(4)} (outputs up to ${peak.toFixed(2)}) — ${result.summary}`);
    expect(e.maxAbsDelta).toBeLessThan(0.05 * peak);
    const ops = result.graph.nodes.map((n) => n.op);
    if (format === "qoperator") {
      expect(ops.filter((o) => o === "QLinearConv")).toHaveLength(2);
      for (const op of ["QLinearAveragePool", "QLinearAdd", "QLinearMul", "QLinearSigmoid", "QLinearMatMul", "QGemm"]) expect(ops).toContain(op);
    }
  });
});
