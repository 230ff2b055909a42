// A video's answer: index the MP4 → the model's sampling plan with keyframe
// selection → every clip through classifyClips (classify-clips.ts: only the
// chosen samples read, each keyframe decoded once, one model run per clip) →
// the mean of the clips' softmax → top-k.
import type { Manifest, SamplingPlan } from "../../contract/manifest.ts";
import { topK, type Prediction } from "./classify.ts";
import { classifyClips } from "./classify-clips.ts";
import { explainClips, type Explanation } from "./explain.ts";
import { frameSlots } from "./preprocess.ts";
import type { Bindings } from "./middleware.ts";
import type { LoadedModel } from "./models.ts";
import { indexMp4 } from "./mp4/index-mp4.ts";
import { planKeyframes } from "./mp4/keyframes.ts";
import { bytesSource, MeteredSource, r2Source, urlSource, type ByteSource } from "./mp4/source.ts";
import type { ClassifyOptions } from "./api-schemas.ts";
import type { VideoInput } from "./request.ts";
import { ms } from "./timing.ts";

export interface ClipAnswer {
  start: number;
  end: number;
  /** Presentation time of the keyframe behind each of the clip's frames. */
  keyframeTimes: number[];
  top: Prediction[];
}

export interface VideoAnswer {
  top: Prediction[];
  clips: ClipAnswer[];
  frames: { perClip: number; decoded: number };
  video: { codec: string; width: number; height: number; durationSeconds: number; bytes: number };
  bytesRead: number;
  timing: { indexMs: number; readMs: number; decodeMs: number; preprocessMs: number; inferenceMs: number; thumbnailsMs?: number };
  explain?: Explanation;
  keyframes?: { time: number; image: string }[];
}

/** The model's plan with keyframe selection (the only frames decodable on their own) and the request's overrides. */
export function videoPlan(manifest: Manifest, options: Pick<ClassifyOptions, "clips" | "frames">): SamplingPlan {
  return {
    ...manifest.sampling,
    frameSelector: "keyframe",
    frames: options.frames ?? manifest.sampling.frames,
    clipSampler: options.clips ? { kind: "constant_clips_per_video", clipsPerVideo: options.clips } : manifest.sampling.clipSampler,
  };
}

async function openSource(input: VideoInput, env: Bindings): Promise<ByteSource> {
  if (input.kind === "bytes") return bytesSource(input.bytes, input.what);
  if (input.kind === "r2") return r2Source(env.VIDEOS, input.key);
  return urlSource(input.url);
}

export async function classifyVideo(
  input: VideoInput,
  options: ClassifyOptions,
  model: LoadedModel,
  k: number,
  env: Bindings,
): Promise<VideoAnswer> {
  const { manifest } = model;
  const t0 = performance.now();
  // Metered: bytesRead counts the index and the samples together.
  const source = new MeteredSource(await openSource(input, env));
  const index = await indexMp4(source);
  const t1 = performance.now();

  const plan = videoPlan(manifest, options);
  const { clips } = planKeyframes(index, plan);
  const t2 = performance.now();
  const run = await classifyClips(source, index.video, clips, model, { classMaps: options.explain, thumbnails: options.thumbnails });
  const clipScores = run.scores;
  // The clips' mean softmax, as training's validation and `videotrain evaluate` aggregate.
  const mean = new Float64Array(manifest.labels.length);
  for (const scores of clipScores) scores.forEach((p, i) => (mean[i] += p));
  mean.forEach((p, i) => (mean[i] = p / clipScores.length));
  const { video } = index;
  const top = topK(mean, manifest.labels, k);
  const slots = frameSlots(plan.frames, manifest.input.frames);
  const explain =
    run.classMaps &&
    explainClips(
      manifest,
      options.label,
      top[0].index,
      clips.map((clip, c) => ({ start: clip.start, end: clip.end, times: slots.map((j) => clip.frames[j].time), map: run.classMaps![c] })),
    );
  return {
    top,
    clips: clips.map((clip, c) => ({
      start: clip.start,
      end: clip.end,
      keyframeTimes: clip.frames.map((f) => f.time),
      top: topK(clipScores[c], manifest.labels, k),
    })),
    frames: { perClip: plan.frames, decoded: run.decoded },
    video: { codec: video.codec, width: video.width, height: video.height, durationSeconds: index.durationSeconds, bytes: source.size },
    bytesRead: source.bytesRead,
    timing: {
      indexMs: ms(t0, t1),
      // Planning the clips counts with reading their samples.
      readMs: ms(0, t2 - t1 + run.timing.readMs),
      decodeMs: ms(0, run.timing.decodeMs),
      preprocessMs: ms(0, run.timing.preprocessMs),
      inferenceMs: ms(0, run.timing.inferenceMs),
      ...(run.thumbnails && { thumbnailsMs: ms(0, run.timing.thumbnailsMs) }),
    },
    ...(explain && { explain }),
    ...(run.thumbnails && { keyframes: run.thumbnails.map((t) => ({ time: video.samples[t.sample].pts, image: t.image })) }),
  };
}
