// Importance scores (L1, BN scale, Taylor; sum/mean/max over a group's
// members) and targets (global ratio, per-layer ratios, granularity,
// multiply-add / parameter / latency budgets).
import { describe, expect, it } from "vitest";
import { loadModel, type Graph, type Model } from "../ir/index.ts";
import { eliminateDeadNodes } from "../passes/eliminate-dead-nodes.ts";
import { foldBatchNorm } from "../passes/fold-batch-norm.ts";
import { runPasses } from "../pipeline.ts";
import { zooExport } from "../testing/zoo-export.ts";
import { graphCost } from "./cost.ts";
import { findGroups } from "./groups.ts";
import { unitScores } from "./importance.ts";
import { prune, pruneToLatency } from "./index.ts";
import { keptCount } from "./select.ts";
import { expectExact, NetBuilder } from "./test-support.ts";

/** A residual pair of convs whose output channel c has all weights equal to (c + 1) * scale. */
function residualNet(): Model {
  const n = new NetBuilder();
  const x = n.input(2);
  const conv = (name: string, scale: number) => {
    const w = Float32Array.from({ length: 4 * 2 }, (_, i) => (Math.floor(i / 2) + 1) * scale * (i % 2 ? -1 : 1));
    n.b.initializer(`${name}.weight`, "float32", [4, 2, 1, 1, 1], w);
    return n.b.node("Conv", [x, `${name}.weight`], { kernel_shape: { type: "ints", value: [1, 1, 1] } }, [name]);
  };
  const sum = n.b.node("Add", [conv("a", 1), conv("b", 0.5)]);
  const bn = n.batchNorm(sum, 4);
  return n.head(n.b.node("Relu", [bn]), 4);
}

const tinyX3d = async () => loadModel((await zooExport("x3d", "tiny", "torchscript")).modelPath);
const fold = (g: Graph) => runPasses(g, [foldBatchNorm, eliminateDeadNodes]).graph;

describe("importance", () => {
  it("L1 of each producing filter, combined over the group's convs by sum, mean or max", () => {
    const model = residualNet();
    const analysis = findGroups(model.graph);
    const g = analysis.groups.findIndex((x) => x.spaces.some((s) => s.value === "a"));
    const score = (aggregate: "sum" | "mean" | "max") =>
      [...unitScores(model.graph, analysis, { importance: "l1", aggregate }).scores[g]];
    // Channel c: conv a's filter |w| = 2 (c + 1), conv b's = (c + 1).
    expect(score("sum")).toEqual([3, 6, 9, 12]);
    expect(score("mean")).toEqual([1.5, 3, 4.5, 6]);
    expect(score("max")).toEqual([2, 4, 6, 8]);
  });

  it("BN scale: |gamma| where BN is present, the teacher's on a folded graph, L1 where there is none", async () => {
    const model = await tinyX3d();
    const unfolded = findGroups(model.graph);
    const bn = unitScores(model.graph, unfolded, { importance: "bn", aggregate: "sum" });
    const foldedGraph = fold(model.graph);
    const folded = findGroups(foldedGraph);
    const fromTeacher = unitScores(foldedGraph, folded, { importance: "bn", aggregate: "sum", teacher: model.graph });
    // Same groups in the same order, same scores (the teacher's gammas found through the conv weight names).
    expect(folded.groups.map((g) => g.units.length)).toEqual(unfolded.groups.map((g) => g.units.length));
    const stem = unfolded.groups.findIndex((g) => g.producers[0] === "/blocks.0/conv/conv_t/Conv");
    expect(bn.scores[stem].length).toBe(8);
    expect([...fromTeacher.scores[stem]]).toEqual([...bn.scores[stem]]);
    // The SE's inner groups have no BN: L1, and the notes say so.
    expect(bn.notes.some((n) => /norm_b\.1\/block\/block\.0\/Conv: no bn scores, used L1/.test(n))).toBe(true);
    // Without the teacher, a folded graph has no BN at all.
    expect(unitScores(foldedGraph, folded, { importance: "bn", aggregate: "sum" }).notes.length).toBeGreaterThan(bn.notes.length);
  });

  it("Taylor scores by value name; the lowest-scoring channels are the ones pruned", async () => {
    const model = residualNet();
    const analysis = findGroups(model.graph);
    const taylor = new Map([["a", [5, 1, 7, 2]], ["b", [0, 1, 0, 1]]]);
    const g = analysis.groups.findIndex((x) => x.spaces.some((s) => s.value === "a"));
    expect([...unitScores(model.graph, analysis, { importance: "taylor", aggregate: "sum", taylor }).scores[g]]).toEqual([5, 2, 7, 3]);
    const result = prune(model.graph, { ratio: 0.5, importance: "taylor" }, { taylor });
    // Kept channels 0 and 2 of conv a: weights 1 and 3 (times the sign pattern).
    expect([...(result.graph.initializers.find((t) => t.name === "a.weight")!.data as Float32Array)]).toEqual([1, -1, 3, -3]);
    await expectExact(model, result);
    expect(() => prune(model.graph, { ratio: 0.5, importance: "taylor" })).toThrow("importance taylor needs Taylor scores");
  });
});

describe("targets", () => {
  it("kept counts: multiples of the granularity, at least one channel, all when nothing is dropped", () => {
    expect(keptCount(48, 24, 8)).toBe(24);
    expect(keptCount(54, 27, 8)).toBe(24);
    expect(keptCount(18, 9, 8)).toBe(8);
    expect(keptCount(5, 4, 8)).toBe(5); // too small to round: kept
    expect(keptCount(11, 0, 8)).toBe(11);
    expect(keptCount(4, 4, 1)).toBe(1);
  });

  it("a global ratio with granularity 8 on tiny X3D; per-layer ratios by name and regex", async () => {
    const model = await tinyX3d();
    const result = prune(model.graph, { ratio: 0.5, granularity: 8 });
    for (const g of result.groups) expect(g.kept === g.channels || g.kept % 8 === 0).toBe(true);
    expect(result.groups.filter((g) => g.kept < g.channels).length).toBeGreaterThan(5);
    await expectExact(model, result);

    const layers = prune(model.graph, {
      layers: [{ match: "/blocks\\.4\\/res_blocks\\.\\d\\/branch2\\/conv_a/", ratio: 0.5 }, { match: "/blocks.0/conv/conv_t/Conv", ratio: 0.25 }],
    });
    const changed = layers.groups.filter((g) => g.kept < g.channels);
    expect(changed.map((g) => [g.producers[0], g.channels, g.kept])).toEqual([
      ["/blocks.0/conv/conv_t/Conv", 8, 6],
      ["/blocks.4/res_blocks.0/branch2/conv_a/Conv", 108, 54],
      ["/blocks.4/res_blocks.1/branch2/conv_a/Conv", 108, 54],
      ["/blocks.4/res_blocks.2/branch2/conv_a/Conv", 108, 54],
    ]);
  });

  it("multiply-add and parameter budgets are met (and not overshot by much); unreachable ones are clear errors", async () => {
    const model = await tinyX3d();
    const before = graphCost(model.graph);
    for (const budget of [{ macs: before.macs / 2 }, { params: before.params / 3 }]) {
      const result = prune(model.graph, { budget, granularity: 4 });
      const [what, limit] = Object.entries(budget)[0] as ["macs" | "params", number];
      console.log(`budget ${what} <= ${Math.round(limit)}: ${result.summary}`);
      expect(result.after[what]).toBeLessThanOrEqual(limit);
      expect(result.after[what]).toBeGreaterThan(limit * 0.8);
      await expectExact(model, result);
    }
    expect(() => prune(model.graph, { budget: { macs: 1000 } })).toThrow(/^prune: macs budget 1,000 is out of reach: pruning 95% of the prunable channels leaves [\d,]+$/);
  });

  it("a latency budget prunes step by step until the measurement fits", async () => {
    const model = await tinyX3d();
    const before = graphCost(model.graph).macs;
    // A deterministic stand-in for onnxruntime timing (the benchmark measures real latency): 1 ms per MMAC.
    const measured: number[] = [];
    const measure = async (g: Graph) => {
      measured.push(graphCost(g).macs / 1e6);
      return measured.at(-1)!;
    };
    const target = (0.6 * before) / 1e6;
    const result = await pruneToLatency(model.graph, { budget: { latencyMs: target }, latencyStep: 0.1 }, measure);
    expect(result.latencyMs).toBeLessThanOrEqual(target);
    expect(measured.length).toBeGreaterThan(1);
    expect(measured.slice(0, -1).every((ms) => ms > target)).toBe(true);
    expect(() => prune(model.graph, { budget: { latencyMs: 5 } })).toThrow("use pruneToLatency");
  });
});
