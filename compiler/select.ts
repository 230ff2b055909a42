// Which candidate to ship, decided from measurements alone (a pure function):
// the fastest in onnxruntime-web (the Worker's runtime) among those within
// the accuracy budget and the isolate's memory limit; when speeds tie within
// noise, the smallest. "Within noise": the two medians differ by no more than
// the larger of the two interquartile ranges measured. The user may force a
// candidate by name or kind; the decision then says what it costs.
import { z } from "zod";
import { CompileError } from "./errors.ts";
import { ISOLATE_LIMIT_BYTES, type Measurement } from "./measure/latency.ts";
import { spreadMs, type Timing } from "./measure/stats.ts";

export const CANDIDATE_KINDS = ["fp32", "qdq", "qoperator", "mixed", "weight-only"] as const;
export type CandidateKind = (typeof CANDIDATE_KINDS)[number];

export interface MeasuredCandidate {
  readonly name: string;
  readonly kind: CandidateKind;
  /** Top-1 on the held-out set, 0..1. */
  readonly top1: number;
  readonly bytes: number;
  readonly measurement: Measurement;
}

export const SelectOptionsSchema = z.object({
  /** The largest top-1 drop from the fp32 candidate allowed, in percentage points. */
  budgetPoints: z.number().nonnegative().default(1),
  /** A candidate name or kind to ship whatever the measurements say. */
  choose: z.string().min(1).optional(),
  memoryLimitBytes: z.number().positive().default(ISOLATE_LIMIT_BYTES),
});
export type SelectOptions = z.input<typeof SelectOptionsSchema>;

export interface Verdict {
  readonly name: string;
  readonly eligible: boolean;
  /** Why it is out, or where it stands. */
  readonly note: string;
}

export interface Decision {
  readonly chosen: string;
  readonly forced: boolean;
  readonly reasons: readonly string[];
  readonly verdicts: readonly Verdict[];
}

const points = (fraction: number) => (fraction * 100).toFixed(1);
const ms = (t: Timing) => `${t.medianMs.toFixed(1)} ms (IQR ${spreadMs(t).toFixed(1)})`;
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

function webTiming(c: MeasuredCandidate): Timing {
  const t = c.measurement.web?.timing;
  if (!t) throw new CompileError(`candidate ${c.name} has no onnxruntime-web latency; selection needs one for every candidate`);
  return t;
}

/** True when a and b are not told apart by the measurements' own spread. */
export function tiesWithin(a: Timing, b: Timing): boolean {
  return Math.abs(a.medianMs - b.medianMs) <= Math.max(spreadMs(a), spreadMs(b));
}

export function selectCandidate(candidates: readonly MeasuredCandidate[], options: SelectOptions = {}): Decision {
  const { budgetPoints, choose, memoryLimitBytes } = SelectOptionsSchema.parse(options);
  const baseline = candidates.find((c) => c.kind === "fp32");
  if (!baseline) throw new CompileError("selection needs the fp32 candidate: the accuracy budget is measured from it");
  const floor = baseline.top1 - budgetPoints / 100;

  const outReason = (c: MeasuredCandidate): string | undefined => {
    const memory = c.measurement.web?.peakWasmBytes;
    if (memory !== undefined && memory > memoryLimitBytes) {
      return `peak wasm memory ${mib(memory)} is over the ${mib(memoryLimitBytes)} isolate limit`;
    }
    if (c.top1 < floor - 1e-12) {
      return `top-1 ${points(c.top1)}% is ${points(baseline.top1 - c.top1)} points under fp32's ${points(baseline.top1)}% (budget ${budgetPoints})`;
    }
    return undefined;
  };

  if (choose !== undefined) {
    const forced = candidates.find((c) => c.name === choose) ?? candidates.find((c) => c.kind === choose);
    if (!forced) {
      throw new CompileError(`--choose ${choose}: no such candidate; accepted: ${[...new Set(candidates.flatMap((c) => [c.name, c.kind]))].join(", ")}`);
    }
    const out = outReason(forced);
    return {
      chosen: forced.name,
      forced: true,
      reasons: [`${forced.name} chosen by --choose ${choose}`, ...(out ? [`warning: ${out}`] : [])],
      verdicts: candidates.map((c) => ({ name: c.name, eligible: outReason(c) === undefined, note: c === forced ? "forced" : (outReason(c) ?? "not forced") })),
    };
  }

  const eligible = candidates.filter((c) => outReason(c) === undefined);
  // fp32 is within its own budget; only memory can rule it out.
  if (eligible.length === 0) {
    throw new CompileError(`no candidate fits: ${candidates.map((c) => `${c.name}: ${outReason(c)}`).join("; ")}`);
  }
  const fastest = eligible.reduce((best, c) => (webTiming(c).medianMs < webTiming(best).medianMs ? c : best));
  const tied = eligible.filter((c) => tiesWithin(webTiming(c), webTiming(fastest)));
  const chosen = tied.reduce((best, c) => (c.bytes < best.bytes ? c : best));

  const reasons = [
    `${eligible.length} of ${candidates.length} candidates within the ${budgetPoints}-point budget under fp32's ${points(baseline.top1)}% and the memory limit`,
    `fastest in onnxruntime-web: ${fastest.name} at ${ms(webTiming(fastest))}`,
    tied.length > 1
      ? `${tied.map((c) => c.name).join(", ")} tie within noise (medians differ by no more than the larger IQR): ${chosen.name} is the smallest at ${chosen.bytes} bytes`
      : `no other candidate within noise of it`,
  ];
  return {
    chosen: chosen.name,
    forced: false,
    reasons,
    verdicts: candidates.map((c) => {
      const out = outReason(c);
      if (out) return { name: c.name, eligible: false, note: out };
      if (c === chosen) return { name: c.name, eligible: true, note: "chosen" };
      if (tied.includes(c)) return { name: c.name, eligible: true, note: `ties with the fastest within noise, ${c.bytes} bytes vs ${chosen.bytes}` };
      return { name: c.name, eligible: true, note: `slower: ${ms(webTiming(c))} vs ${ms(webTiming(fastest))}` };
    }),
  };
}
