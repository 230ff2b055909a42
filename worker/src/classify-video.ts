// A video's answer: index the MP4 → the model's sampling plan with keyframe
// selection → read only the chosen samples → decode each distinct keyframe
// once → colour conversion, resize and crop straight into every clip slot it
// feeds → one model run per clip as soon as its last slot is filled → the mean
// of the clips' softmax → top-k. Clips are filled in time order, so only the
// clips whose keyframes overlap the current one hold a tensor, and one decoded
// picture is alive at a time.
import type { Manifest, SamplingPlan } from "../../contract/manifest.ts";
import { probabilities, runModel, topK, type Prediction } from "./classify.ts";
import { userError } from "./errors.ts";
import { createH264Decoder } from "./h264/decoder.ts";
import type { Bindings } from "./middleware.ts";
import type { LoadedModel } from "./models.ts";
import { indexMp4 } from "./mp4/index-mp4.ts";
import { planKeyframes, readSamples } from "./mp4/keyframes.ts";
import { bytesSource, MeteredSource, r2Source, urlSource, type ByteSource } from "./mp4/source.ts";
import { ClipTensor, frameSlots } from "./preprocess.ts";
import type { ClassifyOptions } from "./api-schemas.ts";
import type { VideoInput } from "./request.ts";
import { ms } from "./timing.ts";

const ACCEPTED = "MP4 with H.264 video in 8-bit 4:2:0 whose keyframes all have the same size";

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
  timing: { indexMs: number; readMs: number; decodeMs: number; preprocessMs: number; inferenceMs: number };
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
  { manifest, session }: LoadedModel,
  k: number,
  env: Bindings,
): Promise<VideoAnswer> {
  const t0 = performance.now();
  // Metered: bytesRead counts the index and the samples together.
  const source = new MeteredSource(await openSource(input, env));
  const index = await indexMp4(source);
  const t1 = performance.now();

  const plan = videoPlan(manifest, options);
  const { clips } = planKeyframes(index, plan);
  // Slot t of every clip shows the clip's frame slots[t] (repeats when the
  // request asks for fewer frames than the model's T).
  const slots = frameSlots(plan.frames, manifest.input.frames);
  const uses = new Map<number, { clip: number; slot: number }[]>();
  const lastSample = clips.map((clip, c) => {
    slots.forEach((j, slot) => {
      const sample = clip.frames[j].sample;
      if (!uses.has(sample)) uses.set(sample, []);
      uses.get(sample)!.push({ clip: c, slot });
    });
    return Math.max(...slots.map((j) => clip.frames[j].sample));
  });
  const samples = [...uses.keys()].sort((a, b) => a - b);
  const data = await readSamples(
    source,
    samples.map((s) => index.video.samples[s]),
  );
  const t2 = performance.now();

  const timing = { indexMs: ms(t0, t1), readMs: ms(t1, t2), decodeMs: 0, preprocessMs: 0, inferenceMs: 0 };
  const open = new Map<number, ClipTensor>();
  const clipScores: Float64Array[] = [];
  let size: { width: number; height: number } | undefined;
  const decoder = await createH264Decoder(index.video.avcC);
  try {
    for (const [n, sample] of samples.entries()) {
      const what = `the keyframe at ${index.video.samples[sample].pts.toFixed(3)} s`;
      const a = performance.now();
      const picture = decoder.decodeKeyframe(data[n], what);
      const b = performance.now();
      size ??= { width: picture.width, height: picture.height };
      if (picture.width !== size.width || picture.height !== size.height) {
        throw userError(422, "frame_size_changed", `${what} is ${picture.width}×${picture.height}, earlier keyframes ${size.width}×${size.height}`, ACCEPTED);
      }
      for (const { clip, slot } of uses.get(sample)!) {
        let tensor = open.get(clip);
        if (!tensor) open.set(clip, (tensor = new ClipTensor(manifest.input, size.width, size.height)));
        tensor.setFrameYuv(slot, picture);
      }
      const c = performance.now();
      for (const [clip, tensor] of open) {
        if (lastSample[clip] !== sample) continue;
        open.delete(clip);
        clipScores[clip] = probabilities(await runModel(session, manifest, tensor.data, tensor.dims), manifest.output.kind);
      }
      timing.decodeMs += b - a;
      timing.preprocessMs += c - b;
      timing.inferenceMs += performance.now() - c;
    }
  } finally {
    decoder.close();
  }

  // The clips' mean softmax, as training's validation and `videotrain evaluate` aggregate.
  const mean = new Float64Array(manifest.labels.length);
  for (const scores of clipScores) scores.forEach((p, i) => (mean[i] += p));
  mean.forEach((p, i) => (mean[i] = p / clipScores.length));
  const { video } = index;
  return {
    top: topK(mean, manifest.labels, k),
    clips: clips.map((clip, c) => ({
      start: clip.start,
      end: clip.end,
      keyframeTimes: clip.frames.map((f) => f.time),
      top: topK(clipScores[c], manifest.labels, k),
    })),
    frames: { perClip: plan.frames, decoded: samples.length },
    video: { codec: video.codec, width: video.width, height: video.height, durationSeconds: index.durationSeconds, bytes: source.size },
    bytesRead: source.bytesRead,
    timing: {
      ...timing,
      decodeMs: ms(0, timing.decodeMs),
      preprocessMs: ms(0, timing.preprocessMs),
      inferenceMs: ms(0, timing.inferenceMs),
    },
  };
}
