// Range methods on distributions with known answers.
import { describe, expect, it } from "vitest";
import { seededRandom } from "../random.ts";
import { activationParams, quantizeWeight } from "./params.ts";
import { addHistogram, addMinMax, emptyStats, rangeOf } from "./ranges.ts";

/** Standard normal samples (Box-Muller) plus a few far outliers. */
function gaussianWithOutliers(n: number, outlier: number): Float32Array {
  const random = seededRandom(3);
  const x = Float32Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(6.283185 * random()));
  x.set([outlier, -outlier, outlier], 0);
  return x;
}

function statsOf(x: Float32Array) {
  const s = emptyStats();
  addMinMax(s, x);
  addHistogram(s, x);
  return s;
}

describe("ranges", () => {
  const stats = statsOf(gaussianWithOutliers(200_000, 40));
  it("minmax keeps the outliers", () => {
    expect(rangeOf(stats, "minmax")).toEqual({ min: -40, max: 40 });
  });
  it("percentile clips at the |x| percentile", () => {
    const r = rangeOf(stats, "percentile", 99);
    expect(r.max).toBeGreaterThan(2.5); // |x| 99th percentile of N(0,1) is 2.58
    expect(r.max).toBeLessThan(2.7);
    expect(r.min).toBe(-r.max);
  });
  it("entropy clips the outliers but keeps the bulk of the distribution", () => {
    const r = rangeOf(stats, "entropy");
    expect(r.max).toBeGreaterThan(3);
    expect(r.max).toBeLessThan(10);
  });
  it("ranges include 0; a non-negative (post-Relu) range gets uint8 zero point 0", () => {
    const relu = statsOf(Float32Array.from(gaussianWithOutliers(10_000, 5), (v) => Math.max(0, v) + 1));
    const r = rangeOf(relu, "minmax");
    expect(r.min).toBe(0);
    expect(activationParams(r, "uint8").zeroPoint).toBe(0);
    expect(activationParams({ min: -1, max: 3 }, "uint8")).toEqual({ scale: Math.fround(4 / 255), zeroPoint: 64, type: "uint8" });
    expect(activationParams({ min: -1, max: 3 }, "int8")).toEqual({ scale: Math.fround(3 / 127), zeroPoint: 0, type: "int8" });
  });
  it("weights: per channel symmetric, 7-bit with reduceRange", () => {
    const w = { name: "w", dtype: "float32" as const, dims: [2, 3], data: Float32Array.of(1, -0.5, 0.25, 0, 0.1, -0.2) };
    const q = quantizeWeight(w, 0, false);
    expect([...q.scales].map((s) => s.toFixed(6))).toEqual([(1 / 127).toFixed(6), (0.2 / 127).toFixed(6)]);
    expect([...q.data]).toEqual([127, -64, 32, 0, 64, -127]);
    expect(Math.max(...quantizeWeight(w, 0, true).data)).toBe(63);
  });
});
