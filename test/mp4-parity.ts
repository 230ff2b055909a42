// The Worker's MP4 path against `videotrain evaluate --frame-selector keyframe`
// on the same videos: the keyframe times of every clip, every clip's
// probabilities and every video's top-1 label. Shared by the quick parity test
// (the bundled model) and the end-to-end test (a freshly trained model).
import { readFileSync } from "node:fs";
import type { Miniflare } from "miniflare";
import { expect } from "vitest";

/** The parts of `videotrain evaluate`'s JSON that the comparison reads. */
export interface KeyframeEvaluation {
  sampling: { frameSelector: string };
  videos: { path: string; pred: number; clips: { times: number[]; probs: number[] }[] }[];
}

interface VideoAnswer {
  top: { index: number }[];
  clips: { keyframeTimes: number[]; top: { index: number; score: number }[] }[];
}

export interface ParityReport {
  videos: number;
  clips: number;
  /** Videos whose top-1 label is the evaluation's. */
  agree: number;
  /** Largest |Worker − Python| over every probability of every clip. */
  maxProbDiff: number;
  /** Largest |Worker − Python| over every keyframe time, seconds. */
  maxTimeDiff: number;
}

/** Posts each evaluated video as a video/mp4 body (with `query`: model, version and topk = every label) and compares. */
export async function compareWithEvaluation(mf: Miniflare, evaluation: KeyframeEvaluation, query: string): Promise<ParityReport> {
  expect(evaluation.sampling.frameSelector).toBe("keyframe");
  const report: ParityReport = { videos: 0, clips: 0, agree: 0, maxProbDiff: 0, maxTimeDiff: 0 };
  for (const video of evaluation.videos) {
    const res = await mf.dispatchFetch(`http://edge.test/v1/classify?${query}`, {
      method: "POST",
      body: readFileSync(video.path),
      headers: { "content-type": "video/mp4" },
    });
    const answer = (await res.json()) as VideoAnswer;
    if (res.status !== 200) throw new Error(`classify ${video.path} answered ${res.status}: ${JSON.stringify(answer)}`);
    expect(answer.clips).toHaveLength(video.clips.length);
    answer.clips.forEach((clip, c) => {
      const ref = video.clips[c];
      expect(clip.keyframeTimes).toHaveLength(ref.times.length);
      expect(clip.top).toHaveLength(ref.probs.length);
      clip.keyframeTimes.forEach((t, j) => (report.maxTimeDiff = Math.max(report.maxTimeDiff, Math.abs(t - ref.times[j]))));
      for (const p of clip.top) report.maxProbDiff = Math.max(report.maxProbDiff, Math.abs(p.score - ref.probs[p.index]));
      report.clips++;
    });
    report.videos++;
    if (answer.top[0].index === video.pred) report.agree++;
  }
  return report;
}
