// Batching a job's clips under the consumer's CPU budget, sending them within
// Queues' sendBatch limits, and the pure aggregation the coordinator finalises with.
import { describe, expect, it } from "vitest";
import { segments, videoTags } from "../src/jobs/aggregate.ts";
import { BATCH_BUDGET, estimateMs, groupClips, SEND_BATCH_BYTES, SEND_BATCH_MESSAGES, sendAll, type TagBatch } from "../src/jobs/batches.ts";
import { backoffSeconds, parseFaults } from "../src/jobs/consumer.ts";
import type { ClipResult, PlannedClip } from "../src/jobs/schema.ts";
import { recordingQueue } from "./jobs-helpers.ts";

/** n clips of 8 frames; clip k uses keyframes k·step … k·step+7 (overlapping when step < 8). */
const clips = (n: number, step: number): PlannedClip[] =>
  Array.from({ length: n }, (_, k) => ({
    id: k,
    start: k,
    end: k + 2,
    samples: Array.from({ length: 8 }, (_, j) => k * step + j),
    keyframeTimes: Array.from({ length: 8 }, (_, j) => k + j / 4),
  }));

describe("groupClips", () => {
  it("fills batches up to the CPU budget: 4 small clips, 1 clip of 4K", () => {
    const small = groupClips(clips(64, 8), 320 * 240);
    expect(small.map((b) => b.length)).toEqual(new Array(16).fill(4));
    const uhd = groupClips(clips(6, 8), 3840 * 2160);
    expect(uhd.map((b) => b.length)).toEqual(new Array(6).fill(1));
    for (const batch of [...small, ...uhd]) {
      const keyframes = new Set(batch.flatMap((c) => c.samples)).size;
      const pixels = batch === uhd[0] ? 3840 * 2160 : 320 * 240;
      if (batch.length > 1) expect(estimateMs(keyframes, pixels, batch.length)).toBeLessThanOrEqual(BATCH_BUDGET.cpuMs);
    }
  });

  it("counts a keyframe shared by overlapping clips once, and keeps clip order", () => {
    // 1080p: 8 distinct keyframes cost 8 × 2.07 × 26 ≈ 431 ms; overlapping clips add one keyframe each.
    const overlapping = groupClips(clips(20, 1), 1920 * 1080);
    const disjoint = groupClips(clips(20, 8), 1920 * 1080);
    expect(overlapping[0].length).toBeGreaterThan(disjoint[0].length);
    expect(overlapping.flat().map((c) => c.id)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it("gives a clip over the budget on its own a batch", () => {
    const huge = clips(2, 8).map((c) => ({ ...c, samples: Array.from({ length: 64 }, (_, j) => c.id * 64 + j) }));
    expect(estimateMs(64, 3840 * 2160, 1)).toBeGreaterThan(BATCH_BUDGET.cpuMs);
    expect(groupClips(huge, 3840 * 2160).map((b) => b.length)).toEqual([1, 1]);
  });
});

describe("sendAll", () => {
  const message = (batch: number, padding: number): TagBatch => ({
    jobId: "job_x",
    batch,
    video: { key: "k", etag: "e", avcC: "x".repeat(padding) },
    model: { id: "m", version: "1", sha256: "0".repeat(64) },
    topk: 1,
    clips: clips(1, 8),
    samples: [{ index: 0, offset: 0, size: 1, pts: 0 }],
  });

  it("sends at most 100 messages and under 256 KB per call, all of them, in order", async () => {
    const many = recordingQueue();
    const bodies = Array.from({ length: 250 }, (_, b) => message(b, 0));
    expect(await sendAll(many, bodies)).toBe(Math.ceil(250 / SEND_BATCH_MESSAGES));
    expect(many.sent.map((m) => m.batch)).toEqual(bodies.map((m) => m.batch));

    const big = recordingQueue();
    const heavy = Array.from({ length: 20 }, (_, b) => message(b, 40_000));
    const calls = await sendAll(big, heavy);
    expect(calls).toBeGreaterThanOrEqual(Math.ceil((20 * 40_000) / SEND_BATCH_BYTES));
    expect(big.sent).toHaveLength(20);
  });
});

describe("the consumer's retry policy and test faults", () => {
  it("backs off exponentially: 10, 20, 40, 80, 160 s", () => {
    expect([1, 2, 3, 4, 5].map(backoffSeconds)).toEqual([10, 20, 40, 80, 160]);
    expect(backoffSeconds(30)).toBe(900);
  });

  it("parses FAULT_INJECTION, off when unset, loud when malformed", () => {
    expect(parseFaults(undefined).fails(0, 1)).toBe(false);
    const fifth = parseFaults("throw:1/5");
    expect([0, 1, 4, 5, 10].map((b) => fifth.fails(b, 1))).toEqual([true, false, false, true, true]);
    expect(fifth.fails(0, 2)).toBe(false);
    expect(parseFaults("throw-always:1/5").fails(5, 3)).toBe(true);
    for (const bad of ["throw", "throw:1/0", "drop:1/5"]) expect(() => parseFaults(bad)).toThrow(/FAULT_INJECTION/);
  });
});

describe("aggregation", () => {
  const result = (id: number, scores: number[]): ClipResult => {
    const labels = ["a", "b", "c"];
    const top = scores.map((score, i) => ({ label: labels[i], score })).sort((x, y) => y.score - x.score);
    return { id, start: id, end: id + 2, keyframeTimes: [], scores, top };
  };

  it("tags: top-k of the mean softmax", () => {
    const tags = videoTags([result(0, [0.6, 0.3, 0.1]), result(1, [0.2, 0.7, 0.1])], ["a", "b", "c"], 2);
    expect(tags.map((t) => t.label)).toEqual(["b", "a"]);
    expect(tags[0].score).toBeCloseTo(0.5, 12);
    expect(tags[1].score).toBeCloseTo(0.4, 12);
    expect(videoTags([], ["a"], 1)).toEqual([]);
  });

  it("segments: runs of one top label merged; a missing clip breaks a run", () => {
    const a = [0.8, 0.1, 0.1];
    const b = [0.1, 0.8, 0.1];
    const out = segments([result(0, a), result(1, [0.6, 0.3, 0.1]), result(2, b), result(4, b), result(3, b), result(6, b)]);
    expect(out).toEqual([
      { start: 0, end: 3, label: "a", score: expect.closeTo(0.7, 12), clips: 2 },
      { start: 2, end: 6, label: "b", score: expect.closeTo(0.8, 12), clips: 3 },
      { start: 6, end: 8, label: "b", score: 0.8, clips: 1 },
    ]);
  });
});
