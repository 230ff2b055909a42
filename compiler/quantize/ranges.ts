// Activation ranges from calibration statistics. Each value gets its min/max
// and a histogram of |x| (2048 bins over [0, max|x|]); the method turns that
// into the range the quantizer uses:
//   minmax     the observed [min, max]
//   percentile clip |x| at the p-th percentile of the histogram (ORT's symmetric percentile)
//   entropy    the threshold whose clipped, 128-level quantized distribution is
//              closest to the observed one in KL divergence (TensorRT's calibrator)
// Ranges always include 0 so that 0 is exactly representable (padding, Relu).
import { z } from "zod";

export const BINS = 2048;

export const RangeMethod = z.enum(["minmax", "percentile", "entropy"]);
export type RangeMethod = z.infer<typeof RangeMethod>;

export interface Range {
  readonly min: number;
  readonly max: number;
}

export interface ValueStats {
  min: number;
  max: number;
  /** Counts of |x| in BINS equal bins over [0, max(|min|, |max|)]; filled in a second pass. */
  readonly histogram: Float64Array;
}

export function emptyStats(): ValueStats {
  return { min: Infinity, max: -Infinity, histogram: new Float64Array(BINS) };
}

export function addMinMax(stats: ValueStats, data: Float32Array): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < stats.min) stats.min = v;
    if (v > stats.max) stats.max = v;
  }
}

export function addHistogram(stats: ValueStats, data: Float32Array): void {
  const top = absMax(stats);
  if (top === 0) return;
  const perBin = BINS / top;
  for (let i = 0; i < data.length; i++) stats.histogram[Math.min(BINS - 1, Math.floor(Math.abs(data[i]) * perBin))]++;
}

const absMax = (s: ValueStats) => Math.max(Math.abs(s.min), Math.abs(s.max));

/**
 * `levels`: the quantized levels |x| gets, for entropy: 128 for int8 (and for
 * signed values in uint8, split around the zero point), 256 for non-negative
 * values in uint8.
 */
export function rangeOf(stats: ValueStats, method: RangeMethod, percentile = 99.999, levels = 128): Range {
  const min = Math.min(stats.min, 0);
  const max = Math.max(stats.max, 0);
  if (method === "minmax" || absMax(stats) === 0) return { min, max };
  const threshold = (method === "percentile" ? percentileBin(stats.histogram, percentile) : entropyBin(stats.histogram, levels)) * (absMax(stats) / BINS);
  return { min: Math.max(min, -threshold), max: Math.min(max, threshold) };
}

/** The upper edge (in bins) below which `p` percent of the mass lies. */
function percentileBin(histogram: Float64Array, p: number): number {
  const total = histogram.reduce((a, b) => a + b, 0);
  let seen = 0;
  for (let i = 0; i < histogram.length; i++) {
    seen += histogram[i];
    if (seen >= (total * p) / 100) return i + 1;
  }
  return histogram.length;
}



const STRIDE = 8;

/** The clip threshold (in bins, from `levels` to BINS) with the least KL(P || Q). */
export function entropyBin(raw: Float64Array, levels = 128): number {
  // Exact zeros (every Relu output below 0) make a spike in bin 0 that only
  // very fine levels reproduce, which would pull the threshold far too low:
  // weigh bin 0 like its neighbour, as NVIDIA's pytorch-quantization does.
  const histogram = Float64Array.from(raw);
  if (histogram.length > 1) histogram[0] = histogram[1];
  let best = histogram.length;
  let bestKl = Infinity;
  const tail = new Float64Array(histogram.length + 1); // tail[i]: mass in bins i..end
  for (let i = histogram.length - 1; i >= 0; i--) tail[i] = tail[i + 1] + histogram[i];
  // Thresholds every STRIDE bins: the divergence changes slowly with t, and
  // each candidate costs O(BINS).
  for (let t = levels; t <= histogram.length; t += t + STRIDE > histogram.length && t < histogram.length ? histogram.length - t : STRIDE) {
    // P: the first t bins, everything beyond folded into the last one.
    const p = Float64Array.from(histogram.subarray(0, t));
    p[t - 1] += tail[t];
    // Q: P's first t bins merged into `levels` levels, each level's mass spread
    // evenly over its non-empty bins (empty bins stay empty).
    const q = new Float64Array(t);
    const ref = histogram.subarray(0, t);
    for (let j = 0; j < levels; j++) {
      const start = Math.floor((j * t) / levels);
      const end = j === levels - 1 ? t : Math.floor(((j + 1) * t) / levels);
      let mass = 0;
      let nonEmpty = 0;
      for (let i = start; i < end; i++) {
        mass += ref[i];
        if (ref[i] > 0) nonEmpty++;
      }
      for (let i = start; i < end; i++) if (ref[i] > 0) q[i] = mass / nonEmpty;
    }
    const kl = divergence(p, q);
    if (kl < bestKl) {
      bestKl = kl;
      best = t;
    }
  }
  return best;
}

/** KL(P || Q) of two unnormalized histograms; bins where P has mass but Q none cost a small-epsilon penalty. */
function divergence(p: Float64Array, q: Float64Array): number {
  const sp = p.reduce((a, b) => a + b, 0);
  const sq = q.reduce((a, b) => a + b, 0);
  if (sp === 0 || sq === 0) return Infinity;
  let kl = 0;
  for (let i = 0; i < p.length; i++) {
    if (p[i] === 0) continue;
    const pi = p[i] / sp;
    const qi = q[i] > 0 ? q[i] / sq : 1e-10;
    kl += pi * Math.log(pi / qi);
  }
  return kl;
}
