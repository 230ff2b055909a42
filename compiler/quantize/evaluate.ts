// The accuracy guard's measurements: a candidate's first output against the
// fp32 model's on the same held-out clips.
import type { Clip } from "./clips.ts";
import { forEachRun } from "./session.ts";

export interface Evaluation {
  readonly clips: number;
  /** Top-1 accuracy in percent against labels; undefined when the clips have none. */
  readonly top1?: number;
  /** Percent of clips whose top-1 class equals the fp32 model's. */
  readonly agreement: number;
  readonly maxAbsDelta: number;
  readonly meanAbsDelta: number;
}

/** The first output (logits) of `bytes` on every clip. */
export async function logitsOf(bytes: Uint8Array, clips: readonly Clip[]): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  await forEachRun(bytes, clips.map((c) => c.input), (outputs) => out.push(outputs.values().next().value!));
  return out;
}

export function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

export function compareLogits(clips: readonly Clip[], candidate: readonly Float32Array[], reference: readonly Float32Array[]): Evaluation {
  let agree = 0;
  let correct = 0;
  let max = 0;
  let sum = 0;
  let count = 0;
  candidate.forEach((c, i) => {
    const r = reference[i];
    if (argmax(c) === argmax(r)) agree++;
    if (argmax(c) === clips[i].label) correct++;
    for (let k = 0; k < c.length; k++) {
      const d = Math.abs(c[k] - r[k]);
      max = Math.max(max, Number.isNaN(d) ? Infinity : d);
      sum += d;
      count++;
    }
  });
  const labelled = clips.every((c) => c.label !== undefined);
  return {
    clips: clips.length,
    ...(labelled && { top1: (100 * correct) / clips.length }),
    agreement: (100 * agree) / clips.length,
    maxAbsDelta: max,
    meanAbsDelta: sum / Math.max(1, count),
  };
}

export async function evaluate(bytes: Uint8Array, clips: readonly Clip[], reference: readonly Float32Array[]): Promise<Evaluation> {
  return compareLogits(clips, await logitsOf(bytes, clips), reference);
}

/** Top-1 points lost against fp32: by labels when there are labels, else disagreement with fp32. */
export function top1Drop(candidate: Evaluation, fp32: Evaluation): number {
  return candidate.top1 !== undefined && fp32.top1 !== undefined ? fp32.top1 - candidate.top1 : 100 - candidate.agreement;
}
