// Summaries of repeated timings: the median and the quartiles, so that
// "within noise" can be defined from the measured spread (compiler/select.ts).
import { z } from "zod";

export const TimingSchema = z.object({
  runs: z.number().int().positive(),
  medianMs: z.number().nonnegative(),
  q1Ms: z.number().nonnegative(),
  q3Ms: z.number().nonnegative(),
  minMs: z.number().nonnegative(),
  maxMs: z.number().nonnegative(),
});
export type Timing = z.infer<typeof TimingSchema>;

/** The value at fraction `p` of the sorted values, linearly interpolated. */
function quantile(sorted: readonly number[], p: number): number {
  const at = (sorted.length - 1) * p;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

export function summarize(times: readonly number[]): Timing {
  if (times.length === 0) throw new Error("summarize: no timings");
  const sorted = [...times].sort((a, b) => a - b);
  return {
    runs: sorted.length,
    medianMs: quantile(sorted, 0.5),
    q1Ms: quantile(sorted, 0.25),
    q3Ms: quantile(sorted, 0.75),
    minMs: sorted[0],
    maxMs: sorted[sorted.length - 1],
  };
}

/** The interquartile range: the spread select.ts calls noise. */
export const spreadMs = (t: Timing): number => t.q3Ms - t.q1Ms;
