// Per-layer sensitivity and mixed precision. Sensitivity of a layer: how much
// closer to fp32 the model gets when everything but that layer is quantized
// (drop in mean |Δlogit|, and top-1 points recovered). Mixed precision keeps
// the most harmful layers in fp32, one at a time in that order, until the
// top-1 drop is within the budget.
import type { Clip } from "./clips.ts";
import { evaluate, top1Drop, type Evaluation } from "./evaluate.ts";

export interface LayerSensitivity {
  readonly layer: string;
  readonly op: string;
  /** Mean |Δlogit| vs fp32 with all layers quantized, minus with this one kept fp32. */
  readonly meanAbsDeltaGain: number;
  /** Top-1 points recovered by keeping this layer fp32. */
  readonly top1Gain: number;
  readonly evaluation: Evaluation;
}

/** Builds a candidate's model bytes with the given layers (node keys) kept in fp32. */
export type BuildCandidate = (exclude: ReadonlySet<string>) => Uint8Array;

export interface GuardContext {
  readonly build: BuildCandidate;
  readonly clips: readonly Clip[];
  readonly reference: readonly Float32Array[];
  readonly fp32: Evaluation;
}

export async function layerSensitivity(
  ctx: GuardContext,
  layers: readonly { key: string; op: string }[],
): Promise<{ all: Evaluation; layers: LayerSensitivity[] }> {
  const all = await evaluate(ctx.build(new Set()), ctx.clips, ctx.reference);
  const out: LayerSensitivity[] = [];
  for (const { key, op } of layers) {
    const evaluation = await evaluate(ctx.build(new Set([key])), ctx.clips, ctx.reference);
    out.push({
      layer: key,
      op,
      meanAbsDeltaGain: all.meanAbsDelta - evaluation.meanAbsDelta,
      top1Gain: top1Drop(all, ctx.fp32) - top1Drop(evaluation, ctx.fp32),
      evaluation,
    });
  }
  out.sort((a, b) => b.top1Gain - a.top1Gain || b.meanAbsDeltaGain - a.meanAbsDeltaGain);
  return { all, layers: out };
}

export interface MixedPrecision {
  /** Layers kept in fp32, most harmful first. */
  readonly fp32Layers: string[];
  readonly evaluation: Evaluation;
  readonly top1Drop: number;
  readonly withinBudget: boolean;
}

export async function mixedPrecision(
  ctx: GuardContext,
  ranked: readonly LayerSensitivity[],
  all: Evaluation,
  budget: number,
): Promise<MixedPrecision> {
  const kept: string[] = [];
  let evaluation = all;
  for (const layer of ranked) {
    if (top1Drop(evaluation, ctx.fp32) <= budget) break;
    kept.push(layer.layer);
    evaluation = await evaluate(ctx.build(new Set(kept)), ctx.clips, ctx.reference);
  }
  const drop = top1Drop(evaluation, ctx.fp32);
  return { fp32Layers: kept, evaluation, top1Drop: drop, withinBudget: drop <= budget };
}
