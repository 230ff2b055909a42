import { describe, expect, it } from "vitest";
import { inspectModel } from "./inspect.ts";
import { GraphBuilder, attr, graphCost, inferTypes, loadModel, makeModel } from "./ir/index.ts";
import { fixSymbolicDims } from "./testing/shape-check.ts";
import { zooExport, type Exporter } from "./testing/zoo-export.ts";

describe("cost: multiply-adds and activation memory", () => {
  it("counts Conv, MatMul, Gemm and Einsum multiply-adds and nothing for the rest", () => {
    const b = new GraphBuilder("g");
    const x = b.input("x", "float32", [1, 4, 2, 6, 6]);
    const w = b.initializer("w", "float32", [8, 2, 3, 3, 3], new Float32Array(8 * 2 * 27));
    const conv = b.node("Conv", [x, w], { group: attr.int(2), pads: attr.ints([1, 1, 1, 1, 1, 1]) });
    const bn = b.node("Relu", [conv]);
    const flat = b.node("Flatten", [bn]); // [1, 576]
    const gemm = b.node("Gemm", [flat, b.initializer("fc", "float32", [10, 576], new Float32Array(5760))], { transB: attr.int(1) });
    const m = b.node("Reshape", [gemm, b.initializer("s", "int64", [3], BigInt64Array.of(1n, 2n, 5n))]);
    const mm = b.node("MatMul", [m, b.initializer("k", "float32", [5, 3], new Float32Array(15))]); // [1,2,3]
    b.node("Einsum", [mm, mm], { equation: attr.string("bij,bkj->bik") }, ["y"]); // [1,2,2]
    b.output("y", "float32");
    const graph = b.build();
    const cost = graphCost(graph, inferTypes(graph));
    expect(cost.layers.map((l) => [l.node.op, l.macs])).toEqual([
      ["Conv", 8 * 2 * 6 * 6 * (2 * 27)],
      ["Gemm", 10 * 576],
      ["MatMul", 2 * 3 * 5],
      ["Einsum", 1 * 2 * 2 * 3],
    ]);
    expect(cost.macs).toBe(8 * 2 * 36 * 54 + 5760 + 30 + 12);
    expect(cost.parameters).toBe(8 * 2 * 27 + 5760 + 3 + 15);
  });

  it("finds the peak of live activations in graph order", () => {
    const b = new GraphBuilder("g");
    const x = b.input("x", "float32", [1, 4]); // 16 bytes each
    const a = b.node("Relu", [x]);
    const c = b.node("Sigmoid", [x]); // x is read here last: freed after
    const sum = b.node("Add", [a, c]);
    b.node("Neg", [sum], {}, ["y"]);
    b.output("y", "float32", [1, 4]);
    const { activations } = graphCost(b.build(), inferTypes(b.build()));
    // x + a + c while Sigmoid runs, and a + c + sum while Add runs.
    expect(activations).toEqual({ peakBytes: 48, peakAt: 1, totalBytes: 64, unknown: 0 });
  });
});

const ZOO: [arch: string, preset: string, exporter: Exporter][] = [
  ["x3d", "tiny", "torchscript"], ["x3d", "tiny", "dynamo"], ["x3d", "s", "torchscript"],
  ["c2d_r50", "tiny", "torchscript"], ["slowfast_r50", "tiny", "dynamo"],
  ["mvit_v2_s", "tiny", "torchscript"], ["mvit_v2_s", "tiny", "dynamo"],
];

describe("multiply-adds of zoo exports agree with the training package's count_macs", () => {
  it.each(ZOO)("%s %s (%s export)", async (arch, preset, exporter) => {
    const { modelPath, info } = await zooExport(arch, preset, exporter);
    const model = fixSymbolicDims(await loadModel(modelPath), 1);
    const cost = graphCost(model.graph, inferTypes(model.graph, modelPath));
    expect(cost.uncounted).toBe(0);
    expect(cost.macs).toBe(info.macs);
  }, 300_000);
});

describe("inspect", () => {
  it("prints the layers' multiply-adds, the total and activation memory, per clip", async () => {
    const { modelPath, info } = await zooExport("x3d", "tiny", "torchscript");
    const text = inspectModel(await loadModel(modelPath), modelPath);
    const lines = text.split("\n");
    const layers = lines.slice(lines.indexOf("multiply-adds per layer (per clip):") + 1, lines.indexOf("", lines.indexOf("multiply-adds per layer (per clip):")));
    expect(layers).toHaveLength(info.ops.Conv + info.ops.MatMul);
    expect(layers[0]).toMatch(/^ {2}#0 +Conv +\/blocks\.0\/conv\/conv_t\/Conv +float32\[1,8,8,32,32\] +1,769,472 +15\.0%$/);
    expect(lines).toContain(`multiply-adds: ${info.macs.toLocaleString("en-US")} per clip (11.82 MMACs; Conv, MatMul, Gemm, Einsum)`);
    expect(lines).toContain("inputs:      %video: float32[batch,3,8,64,64]");
    expect(lines.at(-1)).toMatch(/^activations: peak 1\.19 MiB live at node "\/blocks\.1\/[^"]+" \(\w+\), 7\.75 MiB produced in all \(graph order, per clip\)$/);
  });
});
