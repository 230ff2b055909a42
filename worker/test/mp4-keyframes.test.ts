// Keyframe planning is the shared sampler (contract/sampling.ts) on the index's
// timeline; the plan equals the sampler run on ffprobe's view of the same file.
// readSamples returns each sample's bytes, reading close ranges together.
import { describe, expect, it } from "vitest";
import type { SamplingPlan } from "../../contract/manifest.ts";
import { frameTimesFromRate, sampleFrames } from "../../contract/sampling.ts";
import { indexMp4 } from "../src/mp4/index-mp4.ts";
import { COALESCE_GAP, planKeyframes, readSamples, videoTimeline } from "../src/mp4/keyframes.ts";
import { bytesSource, MeteredSource } from "../src/mp4/source.ts";
import { videoBytes, videos } from "./fixtures/videos.ts";

const plan = (clipsPerVideo: number, frames: number, clipDuration: number): SamplingPlan => ({
  clipSampler: { kind: "constant_clips_per_video", clipsPerVideo },
  clipDuration,
  frames,
  frameSelector: "uniform", // planKeyframes selects keyframes whatever the manifest says
});

describe("planKeyframes", () => {
  for (const [name, p] of [
    ["high_moov_end", plan(2, 8, 2)],
    ["fragmented", plan(3, 4, 1)],
    ["baseline", plan(1, 16, 4)],
    ["long_720p", plan(8, 8, 2)],
    ["long_720p_fragmented", plan(8, 8, 2)],
  ] as const) {
    it(`${name}: the sampler's keyframe choice on ffprobe's timeline`, async () => {
      const truth = videos[name];
      const index = await indexMp4(bytesSource(videoBytes(name)));
      const planned = planKeyframes(index, p);
      // ffprobe's view: constant rate, times from the first frame, keyframes at its times.
      const fps = Math.round(truth.sampleCount / truth.durationSeconds);
      const first = truth.keyframeTimes[0];
      const expected = sampleFrames(
        {
          duration: truth.sampleCount / fps,
          frameTimes: frameTimesFromRate(truth.sampleCount, fps),
          keyframes: truth.keyframeTimes.map((t) => Math.round((t - first) * fps)),
        },
        { ...p, frameSelector: "keyframe" },
      );
      expect(videoTimeline(index).duration).toBeCloseTo(truth.sampleCount / fps, 9);
      expect(planned.clips.map((c) => c.frames.map((f) => f.sample))).toEqual(expected.map((c) => c.frames.map((f) => f.index)));
      expect(planned.clips.map((c) => [c.start, c.end])).toEqual(expected.map((c) => [c.start, c.end]));
      for (const clip of planned.clips) {
        for (const f of clip.frames) {
          expect(index.video.samples[f.sample].isSync).toBe(true);
          expect(f.time).toBeCloseTo(index.video.samples[f.sample].pts - index.video.samples[0].pts, 9);
        }
      }
    });
  }

  it("a video whose duration is zero cannot be sampled: 422", async () => {
    const index = await indexMp4(bytesSource(videoBytes("baseline")));
    const single = { ...index, video: { ...index.video, samples: [{ ...index.video.samples[0], duration: 0 }] } };
    expect(() => planKeyframes(single, plan(1, 8, 2))).toThrowError(expect.objectContaining({ status: 422, code: "unsampleable_video" }));
  });
});

describe("readSamples", () => {
  it("returns each keyframe's bytes; long_720p's whole keyframe path reads a small share of the file", async () => {
    const bytes = videoBytes("long_720p");
    const source = new MeteredSource(bytesSource(bytes));
    const index = await indexMp4(source);
    const planned = planKeyframes(index, plan(8, 8, 2));
    const wanted = planned.clips.flatMap((c) => c.frames.map((f) => index.video.samples[f.sample]));
    const data = await readSamples(source, wanted);
    wanted.forEach((s, i) => expect(data[i]).toEqual(bytes.subarray(s.offset, s.offset + s.size)));
    const distinct = new Set(wanted.map((s) => s.offset)).size;
    const share = source.bytesRead / bytes.length;
    console.log(
      `long_720p keyframe path: ${distinct} keyframes, index ${index.bytesRead} B in ${index.reads} reads, ` +
        `total ${source.bytesRead} B in ${source.reads} reads = ${(100 * share).toFixed(2)}% of ${bytes.length} B`,
    );
    expect(source.reads - index.reads).toBeLessThanOrEqual(distinct);
    expect(share).toBeLessThan(0.1); // 14 of its 15 keyframes: they are most of what is read
  });

  it("coalesces ranges closer than the gap, keeps order and duplicates, reads far ones separately", async () => {
    const bytes = Uint8Array.from({ length: 200_000 }, (_, i) => i % 251);
    const source = new MeteredSource(bytesSource(bytes));
    const samples = [
      { offset: 50_000, size: 100 },
      { offset: 1_000, size: 500 },
      { offset: 1_500 + COALESCE_GAP - 1, size: 10 }, // just inside the gap from the previous one
      { offset: 1_000, size: 500 }, // a duplicate
      { offset: 50_100 + COALESCE_GAP, size: 10 }, // exactly one gap away: separate
    ];
    const data = await readSamples(source, samples);
    samples.forEach((s, i) => expect(data[i]).toEqual(bytes.subarray(s.offset, s.offset + s.size)));
    expect(source.reads).toBe(3);
    expect(source.bytesRead).toBe(1_500 + COALESCE_GAP - 1 + 10 - 1_000 + 100 + 10);
  });
});
