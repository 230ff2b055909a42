// A job's clips in queue messages: how many clips one message may carry, what a
// message holds, and sending them. A message is self-contained (the clips, the
// byte ranges of their keyframes, the decoder configuration, the model), so a
// consumer reads only those ranges and never re-indexes the video.
import { z } from "zod";
import { PlannedClipSchema, type PlannedClip } from "./schema.ts";

/**
 * The CPU one message may cost a consumer, estimated before any of it runs.
 * Workers stop an invocation after 30 s of CPU by default (configurable up to
 * 5 min on the paid plan), and the consumer takes up to `max_batch_size` = 4
 * messages per invocation (wrangler.toml): 4 × 5 s = 20 s leaves a third of
 * the default limit spare. The per-unit costs are the worst ones measured in
 * workerd on this project's machine kind (SYSTEM.md), so real batches of the
 * small default model finish far inside it:
 * - decoding a keyframe: 4K took ~220 ms for 8.3 Mpx (~26 ms/Mpx; 720p ~8 ms/Mpx);
 * - one model run: X3D-S fp32 in onnxruntime-web wasm took 380–850 ms; 1 s covers
 *   the largest model the edge serves, and bounds the tiny default model too.
 * So a message carries at most 5 clips: a retry stays cheap and a job spreads over many consumers.
 */
export const BATCH_BUDGET = {
  cpuMs: 5_000,
  decodeMsPerMegapixel: 26,
  modelRunMs: 1_000,
} as const;

/** Queues: at most 100 messages and 256 KB per sendBatch call; we stay under both. */
export const SEND_BATCH_MESSAGES = 100;
export const SEND_BATCH_BYTES = 192 * 1024;

export const KeyframeRefSchema = z
  .object({
    /** Index into the MP4 index's samples. */
    index: z.number().int().nonnegative(),
    offset: z.number().int().nonnegative(),
    size: z.number().int().positive(),
    /** Presentation time in seconds (error messages name it). */
    pts: z.number(),
  })
  .strict();
export type KeyframeRef = z.infer<typeof KeyframeRefSchema>;

export const TagBatchSchema = z
  .object({
    jobId: z.string(),
    /** 0-based; fault injection and logs name batches by it. */
    batch: z.number().int().nonnegative(),
    video: z
      .object({
        key: z.string(),
        /** The R2 object the plan was made from: reads are pinned to it. */
        etag: z.string(),
        /** The AVCDecoderConfigurationRecord, base64. */
        avcC: z.string(),
      })
      .strict(),
    model: z.object({ id: z.string(), version: z.string(), sha256: z.string() }).strict(),
    topk: z.number().int().positive(),
    clips: z.array(PlannedClipSchema).min(1),
    samples: z.array(KeyframeRefSchema).min(1),
  })
  .strict();
export type TagBatch = z.infer<typeof TagBatchSchema>;

/** Estimated CPU of decoding `keyframes` distinct keyframes of `pixels` each and running the model on `clips` clips. */
export function estimateMs(keyframes: number, pixels: number, clips: number): number {
  return keyframes * (pixels / 1e6) * BATCH_BUDGET.decodeMsPerMegapixel + clips * BATCH_BUDGET.modelRunMs;
}

/**
 * Consecutive clips grouped greedily under the budget. Neighbouring clips share
 * keyframes when they overlap, so a shared keyframe is counted (and decoded)
 * once per batch. A clip that alone exceeds the budget still gets a batch.
 */
export function groupClips(clips: readonly PlannedClip[], pixels: number): PlannedClip[][] {
  const groups: PlannedClip[][] = [];
  let current: PlannedClip[] = [];
  let keyframes = new Set<number>();
  for (const clip of clips) {
    const merged = new Set([...keyframes, ...clip.samples]);
    const fits = estimateMs(merged.size, pixels, current.length + 1) <= BATCH_BUDGET.cpuMs;
    if (current.length > 0 && !fits) {
      groups.push(current);
      current = [];
      keyframes = new Set(clip.samples);
    } else {
      keyframes = merged;
    }
    current.push(clip);
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

/** Sends the messages in as few sendBatch calls as Queues' limits allow. */
export async function sendAll(queue: Queue<TagBatch>, messages: readonly TagBatch[]): Promise<number> {
  let calls = 0;
  let chunk: MessageSendRequest<TagBatch>[] = [];
  let bytes = 0;
  const flush = async () => {
    if (chunk.length === 0) return;
    await queue.sendBatch(chunk);
    calls++;
    chunk = [];
    bytes = 0;
  };
  for (const body of messages) {
    const size = JSON.stringify(body).length;
    if (chunk.length === SEND_BATCH_MESSAGES || bytes + size > SEND_BATCH_BYTES) await flush();
    chunk.push({ body, contentType: "json" });
    bytes += size;
  }
  await flush();
  return calls;
}
