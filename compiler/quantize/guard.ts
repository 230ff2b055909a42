// The accuracy guard around quantize(): the fp32 reference on held-out clips,
// the candidate's accuracy against it, optionally the per-layer sensitivity
// and the mixed-precision model that keeps the most harmful layers in fp32
// until the top-1 drop is within the budget.
import { encodeModel, type Model } from "../ir/index.ts";
import type { Calibration } from "./calibrate.ts";
import type { Clip } from "./clips.ts";
import { evaluate, logitsOf, top1Drop, type Evaluation } from "./evaluate.ts";
import { quantizableLayers, quantize, type QuantizeOptions, type QuantizeResult } from "./index.ts";
import { layerSensitivity, mixedPrecision, type LayerSensitivity, type MixedPrecision } from "./sensitivity.ts";

export interface GuardOptions {
  /** Top-1 points the candidate may lose against fp32 (default 1). */
  readonly budget?: number;
  readonly sensitivity?: boolean;
  /** Keep harmful layers in fp32 until within budget (implies sensitivity). */
  readonly mixed?: boolean;
  /** The ops whose nodes sensitivity tries one by one (default: the layers with weights). */
  readonly sensitivityOps?: readonly string[];
}

export interface GuardReport {
  readonly fp32: Evaluation;
  readonly candidate: Evaluation;
  readonly top1Drop: number;
  readonly budget: number;
  readonly sensitivity?: LayerSensitivity[];
  readonly mixed?: MixedPrecision;
}

export async function guardedQuantize(
  model: Model,
  calibration: Calibration,
  clips: readonly Clip[],
  options: QuantizeOptions,
  guard: GuardOptions = {},
): Promise<{ result: QuantizeResult; report: GuardReport }> {
  const budget = guard.budget ?? 1;
  const reference = await logitsOf(encodeModel(model), clips);
  const fp32 = await evaluate(encodeModel(model), clips, reference);
  const build = (exclude: ReadonlySet<string>) =>
    quantize(model, calibration, { ...options, exclude: [...(options.exclude ?? []), ...exclude] });
  let result = build(new Set());
  const candidate = await evaluate(encodeModel(result.model), clips, reference);
  let report: GuardReport = { fp32, candidate, top1Drop: top1Drop(candidate, fp32), budget };
  if (!guard.sensitivity && !guard.mixed) return { result, report };

  const ctx = { build: (exclude: ReadonlySet<string>) => encodeModel(build(exclude).model), clips, reference, fp32 };
  const excluded = new Set(options.exclude ?? []);
  const ops = new Set(guard.sensitivityOps ?? ["Conv", "Gemm", "MatMul"]);
  const layers = quantizableLayers(model, calibration, options).filter((l) => !excluded.has(l.key) && ops.has(l.op));
  const { all, layers: ranked } = await layerSensitivity(ctx, layers);
  report = { ...report, sensitivity: ranked };
  if (guard.mixed) {
    const mixed = await mixedPrecision(ctx, ranked, all, budget);
    result = build(new Set(mixed.fp32Layers));
    result = { ...result, summary: `${result.summary}; mixed precision: ${mixed.fp32Layers.length} layers kept fp32` };
    report = { ...report, mixed };
  }
  return { result, report };
}
