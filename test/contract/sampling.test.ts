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
