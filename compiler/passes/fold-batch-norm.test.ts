import { describe, expect, it } from "vitest";
import { GraphBuilder, attr, makeModel } from "../ir/build.ts";
import { validateModel } from "../ir/validate.ts";
import type { Model } from "../ir/types.ts";
import { seededRandom, uniform } from "../random.ts";
import { outputDifference } from "../testing/parity.ts";
import { applyPass } from "../testing/apply-pass.ts";
import { videoModel } from "../testing/video-model.ts";
import { foldBatchNorm } from "./fold-batch-norm.ts";

const ops = (m: Model) => m.graph.nodes.map((n) => n.op);

describe("foldBatchNorm", () => {
  it("folds each Conv -> BN pair and keeps the outputs (onnxruntime)", async () => {
    const before = videoModel({ seed: 3 });
    const { after, summary } = applyPass(foldBatchNorm, before);
    const graph = after.graph;
    expect(ops(after)).not.toContain("BatchNormalization");
    expect(graph.nodes.length).toBe(before.graph.nodes.length - 2);
    expect(summary).toBe("folded 2 BatchNormalization nodes into Conv");
    validateModel(after, "after");
    // The depthwise conv had no bias: the fold gives it one. It keeps its
    // output name; what read the BN's output reads it now.
    expect(graph.nodes.find((n) => n.name === "Conv_4")).toMatchObject({
      inputs: ["identity3", "dw.weight", "dw.bias"],
      outputs: ["conv4"],
    });
    expect(graph.nodes.find((n) => n.op === "Sigmoid")?.inputs).toEqual(["conv4"]);
    expect(await outputDifference(before, after)).toBeLessThan(1e-4);
  });

  it("leaves a BN that does not follow a Conv, or whose Conv output has other readers", async () => {
    const random = seededRandom(11);
    const b = new GraphBuilder("g");
    const x = b.input("x", "float32", [1, 2, 3, 4, 4]);
    const bnParams = ["s", "b", "m", "v"].map((n, i) =>
      b.initializer(n, "float32", [2], uniform(random, 2, i === 3 ? 0.5 : -1, i === 3 ? 2 : 1)),
    );
    const standalone = b.node("BatchNormalization", [x, ...bnParams]);
    const conv = b.node("Conv", [standalone, b.initializer("w", "float32", [2, 2, 1, 1, 1], uniform(random, 4))], {
      kernel_shape: attr.ints([1, 1, 1]),
    });
    const bn = b.node("BatchNormalization", [conv, ...bnParams]);
    b.node("Add", [bn, conv], {}, ["y"]); // the conv output is read twice
    b.output("y", "float32", [1, 2, 3, 4, 4]);
    const before = makeModel(b.build());

    const { graph, summary } = foldBatchNorm.run(before.graph);
    expect(graph.nodes).toEqual(before.graph.nodes);
    expect(ops({ ...before, graph })).toEqual(["BatchNormalization", "Conv", "BatchNormalization", "Add"]);
    expect(summary).toBe("folded 0 BatchNormalization nodes into Conv, left 2 (not after a foldable Conv)");
    expect(await outputDifference(before, { ...before, graph })).toBe(0);
  });

  it("lets the Conv take over the name of a BN output that is a graph output", async () => {
    const random = seededRandom(9);
    const b = new GraphBuilder("g");
    const x = b.input("x", "float32", [1, 2, 2, 4, 4]);
    const conv = b.node("Conv", [x, b.initializer("w", "float32", [2, 2, 1, 1, 1], uniform(random, 4))], {
      kernel_shape: attr.ints([1, 1, 1]),
    });
    const bnParams = ["s", "b", "m", "v"].map((n, i) =>
      b.initializer(n, "float32", [2], uniform(random, 2, i === 3 ? 0.5 : -1, i === 3 ? 2 : 1)),
    );
    b.node("BatchNormalization", [conv, ...bnParams], {}, ["y"]);
    b.output("y", "float32", [1, 2, 2, 4, 4]);
    const before = makeModel(b.build());

    const { graph } = foldBatchNorm.run(before.graph);
    expect(graph.nodes).toHaveLength(1);
    expect(graph.nodes[0]).toMatchObject({ op: "Conv", inputs: ["x", "w", "w_bias"], outputs: ["y"] });
    expect(await outputDifference(before, { ...before, graph })).toBeLessThan(1e-5);
  });

  it("gives a shared weight a new name instead of changing it for its other reader", async () => {
    const random = seededRandom(5);
    const b = new GraphBuilder("g");
    const x = b.input("x", "float32", [1, 2, 2, 4, 4]);
    const w = b.initializer("w", "float32", [2, 2, 1, 1, 1], uniform(random, 4));
    const bnParams = ["s", "b", "m", "v"].map((n, i) =>
      b.initializer(n, "float32", [2], uniform(random, 2, i === 3 ? 0.5 : -1, i === 3 ? 2 : 1)),
    );
    const k = { kernel_shape: attr.ints([1, 1, 1]) };
    const folded = b.node("BatchNormalization", [b.node("Conv", [x, w], k), ...bnParams]);
    b.node("Add", [folded, b.node("Conv", [x, w], k)], {}, ["y"]);
    b.output("y", "float32", [1, 2, 2, 4, 4]);
    const before = makeModel(b.build());

    const { graph } = foldBatchNorm.run(before.graph);
    expect(graph.nodes[0].inputs).toEqual(["x", "w_bnfolded", "w_bias"]);
    expect(graph.nodes[1].inputs).toEqual(["x", "w"]);
    expect(graph.initializers.find((t) => t.name === "w")).toBe(before.graph.initializers[0]);
    expect(await outputDifference(before, { ...before, graph })).toBeLessThan(1e-5);
  });
});
