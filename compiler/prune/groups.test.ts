// Channel groups on hand-built graphs: what ties channels together, what is
// refused (and how the message names the node), and that pruning each graph
// is exact against the original with the same channels zeroed.
import { describe, expect, it } from "vitest";
import { attr, makeModel, type Model } from "../ir/index.ts";
import { applyPass } from "../testing/apply-pass.ts";
import { findGroups } from "./groups.ts";
import { prune, prunePass } from "./index.ts";
import { expectExact, NetBuilder } from "./test-support.ts";

/** The group of the channels a node creates, by its output's name. */
const groupOf = (model: Model, value: string) => {
  const g = findGroups(model.graph).groups.find((g) => g.spaces.some((s) => s.value === value));
  if (!g) throw new Error(`no group for %${value}`);
  return g;
};
const values = (g: ReturnType<typeof groupOf>) => g.spaces.map((s) => s.value);

describe("channel groups", () => {
  it("a residual Add ties both branches' output channels into one group", async () => {
    const n = new NetBuilder();
    const a = n.b.node("Relu", [n.conv(n.input(3), 3, 8)]);
    const left = n.conv(a, 8, 6, { kernel: 1 });
    const right = n.conv(n.b.node("Relu", [n.conv(a, 8, 4)]), 4, 6);
    const sum = n.b.node("Relu", [n.b.node("Add", [left, right])]);
    const model = n.head(n.conv(sum, 6, 5), 5);

    const g = groupOf(model, "conv1");
    expect(values(g)).toEqual(["conv1", "conv3"]);
    expect(g.producers).toEqual(["Conv_2", "Conv_5"]);
    expect(g.units).toHaveLength(6);
    expect(g.units.every((u) => u.length === 2)).toBe(true); // channel i of each branch
    expect(g.members).toEqual(expect.arrayContaining(["conv1.weight[0]", "conv3.weight[0]", "conv3.bias[0]", "conv4.weight[1]"]));
    expect(g.locked).toBeUndefined();

    const result = prune(model.graph, { ratio: 0.5 });
    // As a pass: pure, the input model is untouched.
    expect(applyPass(prunePass({ ratio: 0.5 }), model).after.graph).toEqual(result.graph);
    const weights = new Map(result.graph.initializers.map((t) => [t.name, t.dims]));
    expect(weights.get("conv1.weight")).toEqual([3, 4, 1, 1, 1]); // conv0's 8 channels went to 4 too
    expect(weights.get("conv3.weight")).toEqual([3, 2, 3, 3, 3]);
    expect(weights.get("conv4.weight")).toEqual([2, 3, 3, 3, 3]);
    await expectExact(model, result);
  });

  it("a depthwise conv ties its input and output channels and its group follows", async () => {
    const n = new NetBuilder();
    const a = n.b.node("Relu", [n.conv(n.input(3), 3, 8, { kernel: 1 })]);
    const dw = n.b.node("Relu", [n.batchNorm(n.conv(a, 8, 8, { group: 8 }), 8)]);
    const model = n.head(dw, 8);

    const g = groupOf(model, "conv0");
    expect(values(g)).toEqual(["conv0"]);
    expect(g.members).toEqual(expect.arrayContaining(["conv1.weight[0]", "conv1.bias[0]", "bn2.scale[0]", "bn2.var[0]", "fc.weight[1]"]));

    const result = prune(model.graph, { ratio: 0.25 });
    const dwNode = result.graph.nodes.find((x) => x.outputs[0] === "conv1")!;
    expect(dwNode.attributes.group).toMatchObject({ type: "int", value: 6 });
    expect(result.graph.initializers.find((t) => t.name === "conv1.weight")!.dims).toEqual([6, 1, 3, 3, 3]);
    expect(result.graph.initializers.find((t) => t.name === "fc.weight")!.dims).toEqual([3, 6]);
    await expectExact(model, result);
  });

  it("a depthwise conv with a channel multiplier drops each input channel's outputs with it", async () => {
    const n = new NetBuilder();
    const a = n.b.node("Relu", [n.conv(n.input(3), 3, 4, { kernel: 1 })]);
    const dw = n.b.node("Relu", [n.b.node("Conv", [a, n.weights("dw.weight", [8, 1, 3, 3, 3]), n.weights("dw.bias", [8])], {
      kernel_shape: attr.ints([3, 3, 3]), pads: attr.ints([1, 1, 1, 1, 1, 1]), group: attr.int(4),
    })]);
    const model = n.head(dw, 8);
    const g = groupOf(model, "conv0");
    expect(g.units).toHaveLength(4);
    const result = prune(model.graph, { ratio: 0.5 });
    expect(result.graph.initializers.find((t) => t.name === "dw.weight")!.dims).toEqual([4, 1, 3, 3, 3]);
    expect(result.graph.initializers.find((t) => t.name === "fc.weight")!.dims).toEqual([3, 4]);
    expect(result.graph.nodes.find((x) => x.op === "Conv" && x.inputs[1] === "dw.weight")!.attributes.group).toMatchObject({ value: 2 });
    await expectExact(model, result);
  });

  it("squeeze-excite: the inner channels are their own group, the outer ones tie to the main path", async () => {
    const n = new NetBuilder();
    const main = n.batchNorm(n.conv(n.input(3), 3, 8), 8);
    const pooled = n.b.node("GlobalAveragePool", [main]);
    const inner = n.b.node("Relu", [n.conv(pooled, 8, 4, { kernel: 1 })]);
    const gate = n.b.node("Sigmoid", [n.conv(inner, 4, 8, { kernel: 1 })]);
    const excited = n.b.node("Mul", [main, gate]);
    const swish = n.b.node("Mul", [excited, n.b.node("Sigmoid", [excited])]);
    const model = n.head(n.conv(swish, 8, 6, { kernel: 1 }), 6);

    expect(values(groupOf(model, "conv2"))).toEqual(["conv2"]);
    expect(groupOf(model, "conv2").units).toHaveLength(4);
    expect(values(groupOf(model, "conv0"))).toEqual(["conv0", "conv3"]);
    // Locked: the input's channels and the logits only.
    expect(findGroups(model.graph).groups.filter((g) => g.locked).map(values)).toEqual([["x"], ["logits"]]);
    const result = prune(model.graph, { ratio: 0.5 });
    expect(result.groups.filter((g) => g.kept < g.channels).map((g) => g.kept)).toEqual([4, 2, 3]);
    await expectExact(model, result);
  });

  it("Concat along channels: each input keeps its own group, the consumer is sliced at the right offsets", async () => {
    const n = new NetBuilder();
    const x = n.input(3);
    const a = n.b.node("Relu", [n.conv(x, 3, 4)]);
    const b = n.b.node("Relu", [n.conv(x, 3, 6)]);
    const cat = n.b.node("Concat", [a, b], { axis: attr.int(1) });
    const model = n.head(n.conv(cat, 10, 5), 5);

    expect(groupOf(model, "conv0").members).toContain("conv2.weight[1]");
    expect(groupOf(model, "conv1").members).toContain("conv2.weight[1]");
    const result = prune(model.graph, { layers: [{ match: "Conv_0", ratio: 0.5 }, { match: "/^Conv_2$/", ratio: 0.5 }] });
    expect(result.graph.initializers.find((t) => t.name === "conv2.weight")!.dims).toEqual([5, 5, 3, 3, 3]);
    await expectExact(model, result);
  });

  it("Flatten before Gemm: a channel becomes a block of features", async () => {
    const n = new NetBuilder();
    const c = n.b.node("Relu", [n.conv(n.input(3, 2), 3, 4, { kernel: 1 })]);
    const flat = n.b.node("Flatten", [c], { axis: attr.int(1) }); // [1, 4 * 4 * 2 * 2]
    n.b.node("Gemm", [flat, n.weights("fc.weight", [64, 3]), n.weights("fc.bias", [3])], {}, ["logits"]);
    n.b.output("logits", "float32", [1, 3]);
    const model = makeModel(n.graph());

    const result = prune(model.graph, { ratio: 0.5 });
    expect(result.graph.initializers.find((t) => t.name === "fc.weight")!.dims).toEqual([32, 3]);
    await expectExact(model, result);
  });
});

describe("refusals name the node and the reason", () => {
  it("a Sigmoid output mixed by a Conv is not zero when pruned: the group is locked, not pruned inexactly", () => {
    const n = new NetBuilder();
    const s = n.b.node("Sigmoid", [n.conv(n.input(3), 3, 8)]);
    const model = n.head(n.conv(s, 8, 4), 4);
    expect(groupOf(model, "conv0").locked).toBe(
      'node "Conv_2" (Conv) mixes channels that are not zero when pruned (after a Sigmoid, an added constant, ...), so pruning them would not be exact',
    );
    const result = prune(model.graph, { ratio: 0.5 });
    expect(result.groups.find((g) => g.producers[0] === "Conv_0")!.kept).toBe(8);
  });

  it("a Gemm with a broadcast (not per-channel) bias feeding another Gemm is locked the same way", () => {
    const n = new NetBuilder();
    const x = n.b.input("x", "float32", [1, 6]);
    const h = n.b.node("Gemm", [x, n.weights("w1", [6, 4]), n.weights("b1", [1])]);
    n.b.node("Gemm", [h, n.weights("w2", [4, 3])], {}, ["y"]);
    n.b.output("y", "float32", [1, 3]);
    const model = makeModel(n.graph());
    expect(groupOf(model, h).locked).toBe(
      'node "Gemm_1" (Gemm) mixes channels that are not zero when pruned (after a Sigmoid, an added constant, ...), so pruning them would not be exact',
    );
  });

  it("grouped (not depthwise) convs, other reshapes and unknown ops lock their groups", () => {
    const n = new NetBuilder();
    const x = n.input(3);
    const grouped = n.conv(n.conv(x, 3, 8), 8, 8, { group: 2 });
    const lrn = n.b.node("LRN", [n.conv(x, 3, 4)], { size: attr.int(3) });
    const cat = n.b.node("Concat", [grouped, lrn], { axis: attr.int(1) });
    const shape = n.b.initializer("shape", "int64", [3], BigInt64Array.from([1n, 12n, -1n]));
    n.b.node("Reshape", [cat, shape], {}, ["y"]);
    n.b.output("y", "float32", [1, 12, 144]);
    const model = makeModel(n.graph());

    expect(groupOf(model, "conv0").locked).toMatch(/^node "Conv_1" \(Conv\): grouped Conv \(group=2, 8 -> 8 channels\) ties channels within groups/);
    expect(groupOf(model, "conv2").locked).toBe('node "LRN_3" (LRN): op LRN is not understood by the pruner');
    const all = findGroups(model.graph).groups;
    expect(all.every((g) => g.locked)).toBe(true);
    expect(() => prune(model.graph, { layers: [{ match: "Conv_2", ratio: 0.5 }] })).toThrow(
      'prune: layers: "Conv_2" cannot be pruned: node "LRN_3" (LRN): op LRN is not understood by the pruner',
    );
  });

  it("a Reshape that names the channel count is refused", () => {
    const n = new NetBuilder();
    const c = n.conv(n.input(3), 3, 8);
    const shape = n.b.initializer("shape", "int64", [3], BigInt64Array.from([1n, 8n, -1n]));
    const r = n.b.node("Reshape", [c, shape]);
    n.b.node("ReduceMean", [r], { axes: attr.ints([2]), keepdims: attr.int(0) }, ["y"]);
    n.b.output("y", "float32", [1, 8]);
    const model = makeModel(n.graph());
    expect(groupOf(model, "conv0").locked).toBe(
      'node "Reshape_1" (Reshape): Reshape other than a flatten to [batch, -1] (the target shape would name the channel count)',
    );
  });

  it("bad configs and unknown layers are clear errors", () => {
    const n = new NetBuilder();
    const model = n.head(n.b.node("Relu", [n.conv(n.input(3), 3, 8)]), 8);
    expect(() => prune(model.graph, {})).toThrow("prune: prune config: (config): give a ratio, per-layer ratios (layers) or a budget");
    expect(() => prune(model.graph, { ratio: 1.5 })).toThrow(/ratio: Too big/);
    expect(() => prune(model.graph, { layers: [{ match: "nope", ratio: 0.5 }] })).toThrow('prune: layers: "nope" matches no layer');
  });
});
