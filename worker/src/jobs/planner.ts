// A job's plan, made from the MP4 index alone (no sample is read): the model's
// sampling plan with N constant clips per video (contract/sampling.ts, the same
// function training uses), the keyframe behind each clip frame, and the clips
// grouped into queue messages under the consumer's CPU budget (batches.ts).
// Anything wrong with the video that the index shows (not MP4, corrupt boxes,
// unsupported codec, no keyframes) is a userError here, before a job exists.
import type { Manifest } from "../../../contract/manifest.ts";
import { videoPlan } from "../classify-video.ts";
import type { LoadedModel } from "../models.ts";
import { indexMp4, type Mp4Index } from "../mp4/index-mp4.ts";
import { planKeyframes } from "../mp4/keyframes.ts";
import { MeteredSource, r2Source } from "../mp4/source.ts";
import { groupClips, type KeyframeRef, type TagBatch } from "./batches.ts";
import type { Job, PlannedClip } from "./schema.ts";

export interface JobPlan {
  video: Job["video"];
  clips: PlannedClip[];
  batches: TagBatch[];
  planning: NonNullable<Job["planning"]>;
}

export interface PlanRequest {
  jobId: string;
  bucket: R2Bucket;
  key: string;
  clipsPerVideo: number;
  topk: number;
}

function base64(bytes: Uint8Array): string {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text);
}

/** One batch's clips with the byte ranges of the keyframes they use. */
export interface ClipGroup {
  clips: PlannedClip[];
  samples: KeyframeRef[];
}

/**
 * The clips of a video's plan and their batches, from its index alone: what
 * planJob sends to the queue, and what `npm run tag` hands its worker threads.
 */
export function planClips(index: Mp4Index, manifest: Manifest, clipsPerVideo: number): { clips: PlannedClip[]; groups: ClipGroup[] } {
  const { clips } = planKeyframes(index, videoPlan(manifest, { clips: clipsPerVideo }));
  const planned: PlannedClip[] = clips.map((clip, id) => ({
    id,
    start: clip.start,
    end: clip.end,
    samples: clip.frames.map((f) => f.sample),
    keyframeTimes: clip.frames.map((f) => f.time),
  }));
  const { video } = index;
  const groups = groupClips(planned, video.width * video.height).map((group) => {
    const used = [...new Set(group.flatMap((c) => c.samples))].sort((a, b) => a - b);
    return {
      clips: group,
      samples: used.map((index) => {
        const { offset, size, pts } = video.samples[index];
        return { index, offset, size, pts };
      }),
    };
  });
  return { clips: planned, groups };
}

export async function planJob({ jobId, bucket, key, clipsPerVideo, topk }: PlanRequest, { manifest }: LoadedModel): Promise<JobPlan> {
  const t0 = performance.now();
  const r2 = await r2Source(bucket, key);
  const source = new MeteredSource(r2);
  const index = await indexMp4(source);
  const { clips: planned, groups } = planClips(index, manifest, clipsPerVideo);
  const { video } = index;
  const avcC = base64(video.avcC);
  const model = { id: manifest.id, version: manifest.version, sha256: manifest.model.sha256 };
  const batches = groups.map((group, batch): TagBatch => ({ jobId, batch, video: { key, etag: r2.etag, avcC }, model, topk, ...group }));
  return {
    video: { key, bytes: source.size, durationSeconds: index.durationSeconds, width: video.width, height: video.height, codec: video.codec },
    clips: planned,
    batches,
    planning: { bytesRead: source.bytesRead, reads: source.reads, ms: Math.round((performance.now() - t0) * 10) / 10 },
  };
}
