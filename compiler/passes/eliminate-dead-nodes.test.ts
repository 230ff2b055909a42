import { describe, expect, it } from "vitest";
import { GraphBuilder, makeModel } from "../ir/build.ts";
import { validateModel } from "../ir/validate.ts";
import { outputDifference } from "../testing/parity.ts";
import { applyPass } from "../testing/apply-pass.ts";
import { videoModel } from "../testing/video-model.ts";
import { eliminateDeadNodes } from "./eliminate-dead-nodes.ts";

describe("eliminateDeadNodes", () => {
  it("removes the dead branch and the unused initializer, outputs unchanged (onnxruntime)", async () => {
    const before = videoModel({ seed: 4 });
    const { after, summary } = applyPass(eliminateDeadNodes, before);
    const graph = after.graph;
    expect(graph.nodes.map((n) => n.op)).not.toContain("ReduceMean");
    expect(graph.nodes.length).toBe(before.graph.nodes.length - 1);
    expect(graph.initializers.map((t) => t.name)).not.toContain("unused.weight");
    expect(graph.initializers.length).toBe(before.graph.initializers.length - 1);
    expect(summary).toBe("removed 1 dead node and 1 unused initializer");
    validateModel(after, "after");
    expect(await outputDifference(before, after)).toBe(0);
  });

  it("removes a dead chain, keeps a node with one live output among several, and drops stale value_info", () => {
    const b = new GraphBuilder("g");
    const x = b.input("x", "float32", [1, 2, 4, 4]);
    b.node("Split", [x], {}, ["live", "dead"]);
    b.node("Relu", [b.node("Sigmoid", ["dead"])]);
    b.node("Identity", ["live"], {}, ["y"]);
    b.output("y", "float32");
    const built = b.build();
    const graph = { ...built, valueInfo: [{ name: "sigmoid1" }, { name: "live" }] };

    const result = eliminateDeadNodes.run(graph).graph;
    expect(result.nodes.map((n) => n.op)).toEqual(["Split", "Identity"]);
    expect(result.valueInfo.map((v) => v.name)).toEqual(["live"]);
    validateModel(makeModel(result), "after");
  });
});
