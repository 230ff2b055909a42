// Which keyframes to decode, and reading their bytes. The choice is the shared
// sampling plan (contract/sampling.ts, the same function training uses) with
// frameSelector "keyframe": for each clip slot, the keyframe nearest its target.
import type { SamplingPlan } from "../../../contract/manifest.ts";
import { SamplingError, sampleFrames, type VideoTimeline } from "../../../contract/sampling.ts";
import { userError } from "../errors.ts";
import type { Mp4Index } from "./index-mp4.ts";
import type { ByteSource } from "./source.ts";

export interface KeyframePlan {
  clips: {
    start: number;
    end: number;
    frames: { /** Index into index.video.samples. */ sample: number; /** Seconds from the first frame. */ time: number }[];
  }[];
}

/**
 * The video as the sampler sees it, built the way training's probe builds it
 * (training/videotrain/data/video.py): times count from the first presented
 * frame, each one exact integer ticks divided once by the timescale, and the
 * duration runs to the end of the last presented frame.
 */
export function videoTimeline(index: Mp4Index): VideoTimeline {
  const { samples, timescale } = index.video;
  const first = samples[0].cts;
  const last = samples[samples.length - 1];
  const span = last.cts - first;
  // Without a duration for the last frame, training adds one mean frame interval.
  const tail = last.duration > 0 ? last.duration : samples.length > 1 ? span / (samples.length - 1) : 0;
  return {
    duration: (span + tail) / timescale,
    frameTimes: samples.map((s) => (s.cts - first) / timescale),
    keyframes: samples.flatMap((s, i) => (s.isSync ? [i] : [])),
  };
}

export function planKeyframes(index: Mp4Index, plan: SamplingPlan): KeyframePlan {
  const timeline = videoTimeline(index);
  try {
    const clips = sampleFrames(timeline, { ...plan, frameSelector: "keyframe" });
    return { clips: clips.map((c) => ({ start: c.start, end: c.end, frames: c.frames.map((f) => ({ sample: f.index, time: f.time })) })) };
  } catch (error) {
    if (!(error instanceof SamplingError)) throw error;
    throw userError(422, "unsampleable_video", `the video cannot be sampled: ${error.message}`, "a video with keyframes and a positive duration");
  }
}

/** Ranges closer than this are read as one (a range read costs more than a few KB). */
export const COALESCE_GAP = 16 * 1024;

/**
 * The bytes of each sample (same order as `samples`), reading close ranges
 * together and separate ranges in parallel. Ranges must lie inside the source
 * (indexMp4 has checked every sample against its size).
 */
export async function readSamples(source: ByteSource, samples: { offset: number; size: number }[], gap = COALESCE_GAP): Promise<Uint8Array[]> {
  const order = samples.map((_, i) => i).sort((a, b) => samples[a].offset - samples[b].offset);
  const runs: { start: number; end: number; members: number[] }[] = [];
  for (const i of order) {
    const { offset, size } = samples[i];
    const last = runs.at(-1);
    if (last && offset - last.end < gap) {
      last.end = Math.max(last.end, offset + size);
      last.members.push(i);
    } else {
      runs.push({ start: offset, end: offset + size, members: [i] });
    }
  }
  const out: Uint8Array[] = new Array(samples.length);
  await Promise.all(
    runs.map(async (run) => {
      const bytes = await source.read(run.start, run.end - run.start);
      for (const i of run.members) out[i] = bytes.subarray(samples[i].offset - run.start, samples[i].offset - run.start + samples[i].size);
    }),
  );
  return out;
}
