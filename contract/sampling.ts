// The frame-sampling plan, evaluated on one video. The same function exists in
// Python (training/videotrain/sampling.py); contract/sampling-vectors.json holds
// the cases both implementations must reproduce exactly. Arithmetic is kept to
// the same float64 operations in the same order in both languages, and frame
// picking uses integer arithmetic, so the results are identical, not close.
import type { SamplingPlan } from "./manifest.ts";

/** A video as the sampler sees it: presentation times of its frames, in order. */
export interface VideoTimeline {
  /** Duration in seconds (container duration, or frameCount / fps). */
  duration: number;
  /** Presentation time of every frame in seconds, ascending. */
  frameTimes: number[];
  /** Indices into frameTimes of the keyframes (sync samples), ascending. */
  keyframes?: number[];
}

export interface SampledFrame {
  /** Index into the video's frameTimes of the frame to use. */
  index: number;
  /** Its presentation time. */
  time: number;
  /** The time the uniform selector aimed at (equal to `time` unless keyframe). */
  target: number;
}

export interface SampledClip {
  index: number;
  start: number;
  end: number;
  frames: SampledFrame[];
}

export class SamplingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SamplingError";
  }
}

// Tolerance for clip boundaries: frame times computed as i / fps carry rounding.
const EPS = 1e-9;

/** Frame times of a constant-rate video: i / fps. */
export function frameTimesFromRate(frameCount: number, fps: number): number[] {
  return Array.from({ length: frameCount }, (_, i) => i / fps);
}

/** Clip start times (seconds) with PyTorchVideo semantics. */
export function clipStarts(duration: number, plan: SamplingPlan): number[] {
  const c = plan.clipDuration;
  const sampler = plan.clipSampler;
  if (sampler.kind === "constant_clips_per_video") {
    // PyTorchVideo ConstantClipsPerVideoSampler: clip k starts at k·max(D−c,0)/max(N−1,1).
    const n = sampler.clipsPerVideo;
    const maxStart = Math.max(duration - c, 0);
    return Array.from({ length: n }, (_, k) => (k * maxStart) / Math.max(n - 1, 1));
  }
  // PyTorchVideo UniformClipSampler: back-to-back windows every `stride` seconds
  // while the window fits; a video shorter than one clip still gives one clip.
  const stride = sampler.stride ?? c;
  const starts: number[] = [];
  for (let k = 0; k * stride + c <= duration + EPS; k++) starts.push(k * stride);
  if (starts.length === 0) return [0];
  const lastEnd = starts[starts.length - 1] + c;
  if (sampler.backpadLast && lastEnd < duration - EPS) starts.push(duration - c);
  return starts;
}

/**
 * UniformTemporalSubsample over m candidates: index floor(i·(m−1)/(T−1)).
 * Integer arithmetic, so both languages agree; with m < T indices repeat.
 */
export function uniformIndices(m: number, t: number): number[] {
  if (t === 1) return [0];
  return Array.from({ length: t }, (_, i) => Math.floor((i * (m - 1)) / (t - 1)));
}

/** The first i in [0, n) with at(i) >= x (n if none), for ascending at(). */
function lowerBound(n: number, at: (i: number) => number, x: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (at(mid) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The first i in [0, n) whose ascending at(i) is nearest to `time`: the same
 * answer as scanning every i and keeping strict improvements, found by binary
 * search (a long video has ~10⁵ frames, a job thousands of clips). |at(i) − time|
 * cannot rise then fall along ascending values (float subtraction is monotonic),
 * so the nearest lies beside the insertion point; equal times then walk left.
 */
function nearest(n: number, at: (i: number) => number, time: number): number {
  const dist = (i: number) => Math.abs(at(i) - time);
  const p = lowerBound(n, at, time);
  let best = p === n || (p > 0 && dist(p - 1) <= dist(p)) ? p - 1 : p;
  while (best > 0 && dist(best - 1) === dist(best)) best--;
  return best;
}

/** Evaluates a sampling plan on one video: which frame feeds each slot of each clip. */
export function sampleFrames(video: VideoTimeline, plan: SamplingPlan): SampledClip[] {
  const times = video.frameTimes;
  if (times.length === 0) throw new SamplingError("the video has no frames");
  if (!(video.duration > 0)) throw new SamplingError(`video duration must be > 0, got ${video.duration}`);
  const keyframes = video.keyframes ?? [];
  if (plan.frameSelector === "keyframe" && keyframes.length === 0) {
    throw new SamplingError("the plan selects keyframes but the video has none");
  }
  return clipStarts(video.duration, plan).map((start, index) => {
    const end = start + plan.clipDuration;
    // Frames whose time lies in [start, end); a clip past the last frame falls
    // back to the frame nearest its start so every clip has something to show.
    // frameTimes ascend, so they are the range [lo, hi).
    const at = (i: number) => times[i];
    const lo = lowerBound(times.length, at, start - EPS);
    const hi = lowerBound(times.length, at, end - EPS);
    const candidates = hi > lo ? Array.from({ length: hi - lo }, (_, i) => lo + i) : [nearest(times.length, at, start)];
    const keyframeAt = (j: number) => times[keyframes[j]];
    const frames = uniformIndices(candidates.length, plan.frames).map((j) => {
      const target = times[candidates[j]];
      // The keyframe nearest the target (ties go to the earlier one).
      const chosen = plan.frameSelector === "keyframe" ? keyframes[nearest(keyframes.length, keyframeAt, target)] : candidates[j];
      return { index: chosen, time: times[chosen], target };
    });
    return { index, start, end, frames };
  });
}
