// The compile report's data (report.json beside the model): every candidate
// the pipeline produced with its measurements, the per-layer sensitivity, and
// the decision. report.html is drawn from exactly this.
import { z } from "zod";
import { TimingSchema } from "../measure/stats.ts";

export const STAGES = ["teacher", "student", "pruned", "quantized", "peer"] as const;

export const ReportCandidateSchema = z.object({
  name: z.string().min(1),
  /** Where in the pipeline it comes from; "peer" is onnxruntime's quantize_static, shown for comparison only. */
  stage: z.enum(STAGES),
  /** fp32, qdq, qoperator, mixed, weight-only (see select.ts) or what the stage calls it. */
  kind: z.string().min(1),
  top1: z.number().min(0).max(1),
  bytes: z.number().int().positive(),
  web: TimingSchema.optional(),
  node: TimingSchema.optional(),
  peakWasmBytes: z.number().int().nonnegative().optional(),
  /** Taking part in the selection (the peer and earlier stages do not). */
  selectable: z.boolean(),
  note: z.string().optional(),
});
export type ReportCandidate = z.infer<typeof ReportCandidateSchema>;

export const ReportSchema = z.object({
  model: z.object({ id: z.string(), version: z.string() }),
  createdAt: z.string(),
  heldOut: z.object({ clips: z.number().int().nonnegative(), source: z.string() }),
  budgetPoints: z.number().nonnegative(),
  memoryLimitBytes: z.number().positive(),
  nodeThreads: z.number().int().positive(),
  candidates: z.array(ReportCandidateSchema).min(1),
  /**
   * Per layer (most harmful first, compiler/quantize/sensitivity.ts): with
   * every other layer in int8, what keeping this one in fp32 recovers: top-1
   * points and mean |logit - fp32 logit|.
   */
  sensitivity: z.array(z.object({ layer: z.string(), top1Gain: z.number(), meanAbsDeltaGain: z.number() })),
  decision: z.object({
    chosen: z.string(),
    forced: z.boolean(),
    reasons: z.array(z.string()),
    verdicts: z.array(z.object({ name: z.string(), eligible: z.boolean(), note: z.string() })),
  }),
});
export type Report = z.infer<typeof ReportSchema>;
