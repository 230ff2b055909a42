// The accuracy guard on the bundled default model: per-layer sensitivity
// (sorted, with numbers) and mixed precision that meets a zero-point budget.
import { describe, expect, it } from "vitest";
import { encodeModel, type Model } from "../ir/index.ts";
import { COMPILE_PASSES, runPasses } from "../pipeline.ts";
import { bundledModel } from "../testing/bundled-model.ts";
import { argmax, logitsOf } from "./evaluate.ts";
import { guardedQuantize } from "./guard.ts";
import { calibrate, type Clip } from "./index.ts";
import { QUANTIZABLE_OPS } from "./plan.ts";
import { movingClips } from "./test-support.ts";

describe("accuracy guard", () => {
  it("ranks layers by harm and keeps the most harmful in fp32 until the top-1 drop is within budget", async () => {
    const m0 = bundledModel({ classMap: false });
    const model: Model = { ...m0, graph: runPasses(m0.graph, COMPILE_PASSES).graph };
    // Calibrated on dimmed clips, so the ranges clip the held-out clips' activations and some answers flip.
    const dim = (c: Clip) => ({ ...c.input, data: (c.input.data as Float32Array).map((v) => v * 0.4) });
    const calibration = await calibrate(model, movingClips(8, [1, 3, 8, 64, 64], 1).map(dim));
    // Labels: the fp32 model's answers, so fp32 scores 100% and any flip is a drop.
    const unlabelled = movingClips(12, [1, 3, 8, 64, 64], 5);
    const fp32 = await logitsOf(encodeModel(model), unlabelled);
    const clips = unlabelled.map((c, i) => ({ ...c, label: argmax(fp32[i]) }));
    const { result, report } = await guardedQuantize(model, calibration, clips, { method: "minmax", format: "qdq" }, {
      budget: 0,
      mixed: true,
      sensitivityOps: QUANTIZABLE_OPS,
    });

    expect(report.fp32.top1).toBe(100);
    const s = report.sensitivity!;
    console.log(`all int8: top-1 ${report.candidate.top1}% mean |Δ| ${report.candidate.meanAbsDelta.toFixed(3)}; most harmful:`);
    for (const l of s.slice(0, 5)) console.log(`  ${l.layer} (${l.op}) +${l.top1Gain.toFixed(2)} points, mean |Δ| ${l.evaluation.meanAbsDelta.toFixed(3)}`);
    console.log(`mixed: ${report.mixed!.fp32Layers.length} layers fp32, top-1 ${report.mixed!.evaluation.top1}% — ${result.summary}`);
    expect(s).toHaveLength(112);
    expect(report.candidate.top1).toBeLessThan(100);
    for (let i = 1; i < s.length; i++) {
      expect(s[i - 1].top1Gain > s[i].top1Gain || (s[i - 1].top1Gain === s[i].top1Gain && s[i - 1].meanAbsDeltaGain >= s[i].meanAbsDeltaGain)).toBe(true);
    }
    expect(report.mixed!.withinBudget).toBe(true);
    expect(report.mixed!.evaluation.top1).toBe(100);
    expect(report.mixed!.fp32Layers).toEqual(s.slice(0, report.mixed!.fp32Layers.length).map((l) => l.layer));
    // The mixed model keeps exactly those layers' ops in fp32 (no Q/DQ-fused weights for them).
    const kept = new Set(report.mixed!.fp32Layers);
    const keptNodes = result.graph.nodes.filter((n) => kept.has(n.name));
    expect(keptNodes).toHaveLength(kept.size);
    expect(keptNodes.every((n) => !n.inputs.some((i) => /weight.*_dequantized/.test(i)))).toBe(true);
  }, 300_000);
});
