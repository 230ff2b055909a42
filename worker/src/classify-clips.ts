// Classify some clips of one video: read only the samples they use → decode each
// distinct keyframe once → colour conversion, resize and crop straight into every
// clip slot it feeds → one model run per clip as soon as its last slot is
// filled. Clips are filled in sample order, so only the clips whose keyframes
// overlap the current one hold a tensor, and one decoded picture is alive at a
// time. POST /v1/classify runs it on every clip of a video, the job queue's
// consumers on one batch of a job's clips.
import type { Manifest } from "../../contract/manifest.ts";
import { exclusively } from "./admission.ts";
import { probabilities, runModel, topK, type ModelRunner } from "./classify.ts";
import { userError } from "./errors.ts";
import { createH264Decoder } from "./h264/decoder.ts";
import { readSamples } from "./mp4/keyframes.ts";
import type { ByteSource } from "./mp4/source.ts";
import type { KeyframeRef } from "./jobs/batches.ts";
import type { ClipResult, PlannedClip } from "./jobs/schema.ts";
import type { OutputTensor } from "./ort.ts";
import { encodePng, pngDataUrl } from "./png.ts";
import { ClipTensor, frameSlots, recycle } from "./preprocess.ts";

export const VIDEO_ACCEPTED = "MP4 with H.264 video in 8-bit 4:2:0 whose keyframes all have the same size";

/** Where a sample's bytes are, and when it is shown (for error messages). */
export interface SampleRef {
  offset: number;
  size: number;
  pts: number;
}

/** Samples by their index in the MP4 index: the index's own array, or just the ones some clips use. */
export type SampleTable = { readonly [index: number]: SampleRef };

/** A clip as the sampling plan gives it: one keyframe (sample index) per frame it shows. */
export interface ClipFrames {
  frames: readonly { sample: number }[];
}

/** What a request asks for besides the scores (?explain=1, ?thumbnails=1). */
export interface ClipExtras {
  /** Fetch the manifest's class map for every clip. */
  classMaps?: boolean;
  /** A PNG of each decoded keyframe as the model sees it. */
  thumbnails?: boolean;
}

export interface Thumbnail {
  /** The keyframe's sample index. */
  sample: number;
  /** data:image/png;base64,… of the centre crop, cropSize² pixels. */
  image: string;
}

export interface ClipsRun {
  /** Softmax over the labels, one per clip, in the order given. */
  scores: Float64Array[];
  /** With `classMaps`: each clip's class map [1, K, T', H', W']. */
  classMaps?: OutputTensor[];
  /** With `thumbnails`: one per decoded keyframe, in sample order. */
  thumbnails?: Thumbnail[];
  /** Distinct keyframes decoded. */
  decoded: number;
  timing: { readMs: number; decodeMs: number; preprocessMs: number; inferenceMs: number; thumbnailsMs: number };
}

export async function classifyClips(
  source: ByteSource,
  video: { avcC: Uint8Array; samples: SampleTable },
  clips: readonly ClipFrames[],
  { manifest, session }: { manifest: Manifest; session: ModelRunner },
  extras: ClipExtras = {},
): Promise<ClipsRun> {
  // Slot t of every clip shows the clip's frame slots[t] (repeats when a clip
  // has fewer frames than the model's T).
  const slots = frameSlots(clips[0].frames.length, manifest.input.frames);
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
  const t0 = performance.now();
  const data = await readSamples(source, samples.map((s) => video.samples[s]));
  const timing = { readMs: performance.now() - t0, decodeMs: 0, preprocessMs: 0, inferenceMs: 0, thumbnailsMs: 0 };
  const classMaps: OutputTensor[] | undefined = extras.classMaps ? new Array(clips.length) : undefined;
  const thumbnails: Thumbnail[] | undefined = extras.thumbnails ? [] : undefined;

  // One request at a time decodes and infers (admission.ts): one decoder
  // context and this request's tensors are all that is alive of this work.
  const scores = await exclusively(async () => {
    const open = new Map<number, ClipTensor>();
    const scores: Float64Array[] = new Array(clips.length);
    let size: { width: number; height: number } | undefined;
    const decoder = await createH264Decoder(video.avcC);
    try {
      for (const [n, sample] of samples.entries()) {
        const what = `the keyframe at ${video.samples[sample].pts.toFixed(3)} s`;
        const a = performance.now();
        const picture = decoder.decodeKeyframe(data[n], what);
        const b = performance.now();
        size ??= { width: picture.width, height: picture.height };
        if (picture.width !== size.width || picture.height !== size.height) {
          throw userError(422, "frame_size_changed", `${what} is ${picture.width}×${picture.height}, earlier keyframes ${size.width}×${size.height}`, VIDEO_ACCEPTED);
        }
        for (const { clip, slot } of uses.get(sample)!) {
          let tensor = open.get(clip);
          if (!tensor) open.set(clip, (tensor = new ClipTensor(manifest.input, size.width, size.height)));
          tensor.setFrameYuv(slot, picture);
        }
        const c = performance.now();
        if (thumbnails) {
          // The first slot this keyframe filled: the crop exactly as the model sees it.
          const { clip, slot } = uses.get(sample)![0];
          const crop = manifest.input.cropSize;
          thumbnails.push({ sample, image: pngDataUrl(await encodePng(crop, crop, open.get(clip)!.slotRgb(slot))) });
        }
        const d = performance.now();
        for (const [clip, tensor] of open) {
          if (lastSample[clip] !== sample) continue;
          open.delete(clip);
          const output = await runModel(session, manifest, tensor.data, tensor.dims, extras.classMaps);
          scores[clip] = probabilities(output.scores, manifest.output.kind);
          if (classMaps) classMaps[clip] = output.classMap!;
          recycle(tensor);
        }
        timing.decodeMs += b - a;
        timing.preprocessMs += c - b;
        timing.thumbnailsMs += d - c;
        timing.inferenceMs += performance.now() - d;
      }
    } finally {
      decoder.close();
      // A failed request's half-filled tensors are reused too.
      for (const tensor of open.values()) recycle(tensor);
    }
    return scores;
  });
  return { scores, classMaps, thumbnails, decoded: samples.length, timing };
}

/**
 * A batch of a job's planned clips, given their keyframes' byte ranges and the
 * decoder configuration (the self-contained queue message of jobs/batches.ts)
 * → their results. The queue consumer and `npm run tag`'s worker threads run it.
 */
export async function classifyPlannedClips(
  source: ByteSource,
  avcC: Uint8Array,
  samples: readonly KeyframeRef[],
  clips: readonly PlannedClip[],
  model: { manifest: Manifest; session: ModelRunner },
  k: number,
): Promise<ClipResult[]> {
  const table = Object.fromEntries(samples.map((s) => [s.index, s]));
  const frames = clips.map((c) => ({ frames: c.samples.map((sample) => ({ sample })) }));
  const { scores } = await classifyClips(source, { avcC, samples: table }, frames, model);
  return clips.map((c, i) => ({
    id: c.id,
    start: c.start,
    end: c.end,
    keyframeTimes: c.keyframeTimes,
    scores: Array.from(scores[i]),
    top: topK(scores[i], model.manifest.labels, k).map(({ label, score }) => ({ label, score })),
  }));
}
