import { describe, expect, it } from "vitest";
import { GraphBuilder, attr, makeModel } from "../ir/build.ts";
import { validateModel } from "../ir/validate.ts";
import { outputDifference } from "../testing/parity.ts";
import { applyPass } from "../testing/apply-pass.ts";
import { videoModel } from "../testing/video-model.ts";
import { foldConstants } from "./fold-constants.ts";

describe("foldConstants", () => {
  it("turns Constants into initializers and removes Identities, outputs unchanged (onnxruntime)", async () => {
    const before = videoModel({ seed: 5 });
    const { after, summary } = applyPass(foldConstants, before);
    const graph = after.graph;
    const ops = graph.nodes.map((n) => n.op);
    expect(ops).not.toContain("Constant");
    expect(ops).not.toContain("Identity");
    expect(graph.nodes.length).toBe(before.graph.nodes.length - 3);
    expect(summary).toBe("converted 1 Constant node to initializers, removed 2 Identity nodes");
    // The graph output keeps its name: the Mul before the final Identity now writes it.
    expect(graph.outputs.map((o) => o.name)).toEqual(["logits"]);
    expect(graph.nodes.find((n) => n.outputs.includes("logits"))?.op).toBe("Mul");
    expect(graph.initializers.find((t) => t.name === "constant11")).toMatchObject({ dtype: "float32", dims: [] });
    validateModel(after, "after");
    expect(await outputDifference(before, after)).toBe(0);
  });

  it("resolves chains of Identities, including one between a graph input and a graph output", async () => {
    const b = new GraphBuilder("g");
    const x = b.input("x", "float32", [2, 3]);
    const a = b.node("Identity", [b.node("Identity", [x])]);
    const c = b.node("Constant", [], { value_ints: attr.ints([3, 2]) });
    b.node("Reshape", [a, c], {}, ["r"]);
    b.node("Identity", ["r"], {}, ["y"]);
    b.node("Identity", [x], {}, ["z"]); // graph input -> graph output: must stay
    b.output("y", "float32", [3, 2]);
    b.output("z", "float32", [2, 3]);
    const before = makeModel(b.build());

    const { graph } = foldConstants.run(before.graph);
    expect(graph.nodes.map((n) => `${n.op}(${n.inputs.join(",")})->${n.outputs.join(",")}`)).toEqual([
      "Reshape(x,constant2)->y",
      "Identity(x)->z",
    ]);
    expect(Array.from(graph.initializers[0].data as BigInt64Array)).toEqual([3n, 2n]);
    validateModel({ ...before, graph }, "after");
    expect(await outputDifference(before, { ...before, graph })).toBe(0);
  });
});
