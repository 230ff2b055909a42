import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SamplingPlanSchema } from "../../contract/manifest.ts";
import { clipStarts, frameTimesFromRate, sampleFrames, uniformIndices } from "../../contract/sampling.ts";

interface Case {
  name: string;
  video: { duration: number; fps?: number; frameCount?: number; frameTimes?: number[]; keyframes?: number[] };
  plan: unknown;
  expected?: { index: number; start: number; end: number; frames: [number, number, number][] }[];
  expectedError?: string;
}
const vectors: { cases: Case[] } = JSON.parse(
  readFileSync(new URL("../../contract/sampling-vectors.json", import.meta.url), "utf8"),
);

describe("sampling plan: shared test vectors", () => {
  it("has cases for every clip sampler and frame selector", () => {
    const plans = vectors.cases.map((c) => SamplingPlanSchema.parse(c.plan));
    expect(new Set(plans.map((p) => p.clipSampler.kind))).toEqual(new Set(["constant_clips_per_video", "uniform"]));
    expect(new Set(plans.map((p) => p.frameSelector))).toEqual(new Set(["uniform", "keyframe"]));
  });

  for (const c of vectors.cases) {
    it(c.name, () => {
      const plan = SamplingPlanSchema.parse(c.plan);
      const video = {
        duration: c.video.duration,
        frameTimes: c.video.frameTimes ?? frameTimesFromRate(c.video.frameCount!, c.video.fps!),
        keyframes: c.video.keyframes,
      };
      if (c.expectedError) {
        expect(() => sampleFrames(video, plan)).toThrow(c.expectedError);
        return;
      }
      const got = sampleFrames(video, plan).map((clip) => ({
        index: clip.index,
        start: clip.start,
        end: clip.end,
        frames: clip.frames.map((f) => [f.index, f.time, f.target]),
      }));
      expect(got).toStrictEqual(c.expected);
    });
  }
});

describe("sampling plan: PyTorchVideo semantics by hand", () => {
  const plan = (n: number, c: number) =>
    SamplingPlanSchema.parse({ clipSampler: { kind: "constant_clips_per_video", clipsPerVideo: n }, clipDuration: c, frames: 4, frameSelector: "uniform" });

  it("clip k of N starts at k·max(D−c,0)/max(N−1,1)", () => {
    expect(clipStarts(10, plan(3, 2))).toEqual([0, 4, 8]);
    expect(clipStarts(10, plan(1, 2))).toEqual([0]);
    expect(clipStarts(1, plan(3, 2))).toEqual([0, 0, 0]);
  });

  it("uniform temporal subsample repeats frames of short clips", () => {
    expect(uniformIndices(20, 4)).toEqual([0, 6, 12, 19]);
    expect(uniformIndices(3, 8)).toEqual([0, 0, 0, 0, 1, 1, 1, 2]);
    expect(uniformIndices(5, 1)).toEqual([0]);
  });
});

describe("sampling plan: binary search picks what a scan of every frame picks", () => {
  // The scans sampleFrames replaced (O(frames) per clip and per slot), as the oracle.
  const EPS = 1e-9;
  const scanNearest = (ids: number[], times: number[], t: number) => {
    let best = ids[0];
    for (const i of ids) if (Math.abs(times[i] - t) < Math.abs(times[best] - t)) best = i;
    return best;
  };
  function scanSample(video: { duration: number; frameTimes: number[]; keyframes: number[] }, plan: ReturnType<typeof SamplingPlanSchema.parse>) {
    const times = video.frameTimes;
    const all = times.map((_, i) => i);
    return clipStarts(video.duration, plan).map((start) => {
      const end = start + plan.clipDuration;
      let candidates = all.filter((i) => times[i] >= start - EPS && times[i] < end - EPS);
      if (candidates.length === 0) candidates = [scanNearest(all, times, start)];
      return uniformIndices(candidates.length, plan.frames).map((j) => {
        const target = times[candidates[j]];
        const chosen = plan.frameSelector === "keyframe" ? scanNearest(video.keyframes, times, target) : candidates[j];
        return [chosen, times[chosen], target];
      });
    });
  }

  it("on random videos: jittered and repeated frame times, sparse keyframes, more clips than frames", () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let trial = 0; trial < 300; trial++) {
      const count = 1 + Math.floor(random() * 200);
      const fps = [12, 24, 25, 29.97, 30, 60][trial % 6];
      const frameTimes: number[] = [];
      for (let i = 0; i < count; i++) {
        const t = i / fps + (random() < 0.3 ? random() / fps / 2 : 0);
        frameTimes.push(random() < 0.05 && i > 0 ? frameTimes[i - 1] : Math.max(t, frameTimes[i - 1] ?? 0));
      }
      const gop = 1 + Math.floor(random() * 40);
      const keyframes = frameTimes.flatMap((_, i) => (i % gop === 0 || random() < 0.02 ? [i] : []));
      const duration = (frameTimes.at(-1) ?? 0) + 1 / fps + (random() < 0.2 ? random() * 3 : 0);
      const video = { duration, frameTimes, keyframes };
      for (const frameSelector of ["uniform", "keyframe"] as const) {
        const plan = SamplingPlanSchema.parse({
          clipSampler: trial % 3 === 0 ? { kind: "uniform", stride: 0.25 + random() } : { kind: "constant_clips_per_video", clipsPerVideo: 1 + Math.floor(random() * 64) },
          clipDuration: 0.1 + random() * 4,
          frames: 1 + Math.floor(random() * 16),
          frameSelector,
        });
        const got = sampleFrames(video, plan).map((clip) => clip.frames.map((f) => [f.index, f.time, f.target]));
        expect(got).toStrictEqual(scanSample(video, plan));
      }
    }
  });
});
