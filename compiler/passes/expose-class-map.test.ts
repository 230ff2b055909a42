import { describe, expect, it } from "vitest";
import { CompileError } from "../errors.ts";
import { attr, encodeModel, GraphBuilder, makeModel, validateModel, type Model, type Tensor } from "../ir/index.ts";
import { seededRandom, uniform } from "../random.ts";
import { runModel } from "../runtime.ts";
import { applyPass } from "../testing/apply-pass.ts";
import { bundledModel } from "../testing/bundled-model.ts";
import { randomInputs } from "../testing/parity.ts";
import { videoModel } from "../testing/video-model.ts";
import { CLASS_MAP_OUTPUT, exposeClassMap } from "./expose-class-map.ts";
import { foldConstants } from "./fold-constants.ts";

async function run(model: Model, inputs: Tensor[]): Promise<Record<string, Float32Array>> {
  const outputs = await runModel(encodeModel(model), inputs);
  return Object.fromEntries(outputs.map((t) => [t.name, t.data as Float32Array]));
}

/** Σ over locations of class_map [1, K, L…] for each class. */
function sums(map: Float32Array, classes: number): number[] {
  const per = map.length / classes;
  return Array.from({ length: classes }, (_, k) => map.slice(k * per, (k + 1) * per).reduce((a, b) => a + b, 0));
}

describe("exposeClassMap", () => {
  it("on the bundled X3D: logits unchanged, and each class's contributions sum to its logit minus the head's bias (onnxruntime)", async () => {
    // The bundled model has its map already: take it off, then put it back.
    expect(bundledModel({ classMap: true }).graph.outputs.map((o) => o.name)).toEqual(["logits", CLASS_MAP_OUTPUT]);
    const before = bundledModel({ classMap: false });
    const { after, summary } = applyPass(exposeClassMap, before);
    validateModel(after, "after");
    expect(after.graph.outputs.map((o) => [o.name, o.type?.shape])).toEqual([
      ["logits", ["batch", 8]],
      [CLASS_MAP_OUTPUT, ["batch", 8, 8, 2, 2]],
    ]);
    expect(summary).toMatch(/8 classes × 8×2×2.*1 ReLU mask/);
    const inputs = [{ name: "video", dtype: "float32" as const, dims: [1, 3, 8, 64, 64], data: uniform(seededRandom(5), 3 * 8 * 64 * 64, -2, 2) }];
    const [a, b] = await Promise.all([run(before, inputs), run(after, inputs)]);
    expect(b.logits).toEqual(a.logits);
    const bias = before.graph.initializers.find((t) => t.name === "blocks.5.proj.bias")!.data as Float32Array;
    const total = sums(b[CLASS_MAP_OUTPUT], 8);
    total.forEach((s, k) => expect(s).toBeCloseTo(a.logits[k] - bias[k], 4));
    // A real map, not a constant: locations differ.
    const first = b[CLASS_MAP_OUTPUT].slice(0, 32);
    expect(Math.max(...first) - Math.min(...first)).toBeGreaterThan(1e-3);
  });

  it("a linear head (pool → Flatten → Gemm → scale): each location's map is W·F_l/L, batch included", async () => {
    const before = foldConstants.run(videoModel({ seed: 4 }).graph).graph;
    const { after } = applyPass(exposeClassMap, makeModel(before));
    const inputs = randomInputs(makeModel(before), 3);
    const [a, b] = await Promise.all([run(makeModel(before), inputs), run(after, inputs)]);
    const gemmBias = before.initializers.find((t) => t.name === "fc.bias")!.data as Float32Array;
    // logits = 0.5 · (W p + b): the map sums to logit − 0.5·b.
    sums(b[CLASS_MAP_OUTPUT], 5).forEach((s, k) => expect(s).toBeCloseTo(a.logits[k] - 0.5 * gemmBias[k], 4));
  });

  it("a ReLU after a biased layer: the map uses the mask of the pooled forward pass (against a reference in TypeScript)", async () => {
    const random = seededRandom(9);
    const [C, H, K, L] = [6, 5, 3, 8];
    const b = new GraphBuilder("head");
    const w1 = uniform(random, H * C);
    const b1 = uniform(random, H, -0.3, 0.3);
    const w2 = uniform(random, K * H);
    const x = b.input("features", "float32", [2, C, 2, 2, 2]);
    const pooled = b.node("ReduceMean", [x], { axes: attr.ints([2, 3, 4]), keepdims: attr.int(1) });
    const flat = b.node("Flatten", [pooled], { axis: attr.int(1) });
    const hidden = b.node("Gemm", [flat, b.initializer("w1", "float32", [H, C], w1), b.initializer("b1", "float32", [H], b1)], { transB: attr.int(1) });
    const relu = b.node("Relu", [hidden]);
    b.node("MatMul", [relu, b.initializer("w2", "float32", [H, K], w2)], {}, ["logits"]);
    b.output("logits", "float32", [2, K]);
    const before = makeModel(b.build());
    const { after } = applyPass(exposeClassMap, before);
    const [input] = randomInputs(before, 2);
    const { [CLASS_MAP_OUTPUT]: map } = await run(after, [input]);
    const f = input.data as Float32Array;
    for (let n = 0; n < 2; n++) {
      const at = (c: number, l: number) => f[(n * C + c) * L + l];
      const p = Array.from({ length: C }, (_, c) => Array.from({ length: L }, (_, l) => at(c, l)).reduce((s, v) => s + v) / L);
      const mask = Array.from({ length: H }, (_, h) => (p.reduce((s, v, c) => s + w1[h * C + c] * v, b1[h]) > 0 ? 1 : 0));
      for (let k = 0; k < K; k++) {
        for (let l = 0; l < L; l++) {
          let want = 0;
          for (let h = 0; h < H; h++) for (let c = 0; c < C; c++) want += w2[h * K + k] * mask[h] * w1[h * C + c] * at(c, l);
          expect(map[(n * K + k) * L + l]).toBeCloseTo(want / L, 5);
        }
      }
    }
  });

  it("refuses heads it cannot differentiate forward-only, naming the node", () => {
    const b = new GraphBuilder("head");
    const x = b.input("features", "float32", [1, 4, 2, 2, 2]);
    const pooled = b.node("GlobalAveragePool", [x]);
    b.node("Sigmoid", [pooled], {}, ["logits"]);
    b.output("logits", "float32", [1, 4, 1, 1, 1]);
    expect(() => exposeClassMap.run(b.build())).toThrow(CompileError);
    expect(() => exposeClassMap.run(b.build())).toThrow(/Sigmoid "Sigmoid_1" after the pool has no forward-only derivative here; supported there: Conv/);

    const two = new GraphBuilder("two-paths");
    const slow = two.input("slow", "float32", [1, 4, 2, 2, 2]);
    const fast = two.input("fast", "float32", [1, 4, 4, 2, 2]);
    two.node("Concat", [two.node("GlobalAveragePool", [slow]), two.node("GlobalAveragePool", [fast])], { axis: attr.int(1) }, ["logits"]);
    two.output("logits", "float32", [1, 8, 1, 1, 1]);
    expect(() => exposeClassMap.run(two.build())).toThrow(/Concat "Concat_2" combines 2 values .*single path/);

    const none = new GraphBuilder("no-pool");
    none.node("Relu", [none.input("x", "float32", [1, 4])], {}, ["logits"]);
    none.output("logits", "float32", [1, 4]);
    expect(() => exposeClassMap.run(none.build())).toThrow(/found no global average pool/);
  });
});
