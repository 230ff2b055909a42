// Before any fine-tuning, a pruned graph computes exactly what the original
// computes with the pruned channels zeroed (producing weights, biases, BN
// scale/shift set to 0): onnxruntime on random inputs, max |diff| <= 1e-5.
// On the compiler's small X3D-like model and on real tiny zoo exports (X3D
// with SE and residuals, C2D, SlowFast), with BatchNormalization present and
// BN-folded. MViT: what the pruner refuses, and why.
import { describe, expect, it } from "vitest";
import { batchOne, encodeModel, loadModel, type Model } from "../ir/index.ts";
import { eliminateDeadNodes } from "../passes/eliminate-dead-nodes.ts";
import { foldBatchNorm } from "../passes/fold-batch-norm.ts";
import { runPasses } from "../pipeline.ts";
import { randomInputs } from "../testing/parity.ts";
import { videoModel } from "../testing/video-model.ts";
import { zooExport } from "../testing/zoo-export.ts";
import { runModel } from "../runtime.ts";
import { prune } from "./index.ts";
import { exactness } from "./test-support.ts";

const folded = (m: Model): Model => ({ ...m, graph: runPasses(m.graph, [foldBatchNorm, eliminateDeadNodes]).graph });
const zoo = async (arch: string) => loadModel((await zooExport(arch, "tiny", "torchscript")).modelPath);

const cases: [string, () => Promise<Model>][] = [
  ["X3D-like test model", async () => videoModel()],
  ["tiny X3D (SE, residuals)", () => zoo("x3d")],
  ["tiny C2D", () => zoo("c2d_r50")],
  ["tiny SlowFast", () => zoo("slowfast_r50")],
];

describe("pruning is exact before fine-tuning", () => {
  for (const [name, load] of cases) {
    for (const bn of ["BatchNormalization present", "BN folded"]) {
      it(`${name}, ${bn}`, async () => {
        const original = await load();
        const model = bn === "BN folded" ? folded(original) : original;
        for (const config of [{ ratio: 0.5 }, { ratio: 0.3, granularity: 2, importance: "bn" as const, aggregate: "max" as const }]) {
          const result = prune(model.graph, config, { teacher: original.graph });
          const pruned = result.groups.filter((g) => g.kept < g.channels);
          expect(pruned.length).toBeGreaterThan(0);
          const diff = await exactness(model, result);
          console.log(`${name}, ${bn}, ${JSON.stringify(config)}: ${result.summary}; max |pruned - zeroed| ${diff.toExponential(2)}`);
          expect(diff).toBeLessThanOrEqual(1e-5);
          // Smaller, and it runs: the logits keep their shape.
          expect(result.after.params).toBeLessThan(result.before.params);
          expect(result.after.macs).toBeLessThan(result.before.macs);
          const [logits] = await runModel(encodeModel(batchOne({ ...model, graph: result.graph })), randomInputs(batchOne(model), 3));
          expect(logits.dims).toEqual([1, 5]);
        }
      });
    }
  }

  it("tiny X3D, dynamo export (BN folded by the exporter, pools with ReduceMean)", async () => {
    const model = await loadModel((await zooExport("x3d", "tiny", "dynamo")).modelPath);
    const result = prune(model.graph, { ratio: 0.5, granularity: 2 });
    console.log(`tiny X3D dynamo: ${result.summary}`);
    expect(result.groups.filter((g) => g.kept < g.channels).length).toBeGreaterThan(20);
    expect(await exactness(model, result)).toBeLessThanOrEqual(1e-5);
  });

  it("tiny MViTv2: refused with the node and the reason, and the graph is left as it was", async () => {
    const model = await zoo("mvit_v2_s");
    const result = prune(model.graph, { ratio: 0.5 });
    const reasons = [...new Set(result.groups.flatMap((g) => (g.locked ? [g.locked] : [])))];
    console.log(`MViTv2 tiny: ${result.summary}\n  ${reasons.join("\n  ")}`);
    expect(result.groups.every((g) => g.kept === g.channels)).toBe(true);
    expect(reasons).toContain('node "/Shape" (Shape): reads the shape of a channel tensor (the graph computes with the channel count)');
    expect(await exactness(model, result)).toBe(0);
  });
});
