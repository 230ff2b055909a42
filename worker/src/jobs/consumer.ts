// The Worker's queue handler. Batches of a job's clips ("edgevid-tag-batches"):
// ask the job's Durable Object which clips still need a result (none: the job
// was cancelled or finished, or this is a repeated delivery → ack), read only
// those clips' keyframes, classify them, report. A bad video (the bytes the
// index points at do not decode, the object was replaced) cannot get better by
// retrying: its clips fail at once. Anything else is retried with exponential
// backoff; after max_retries the queue moves the message to the dead-letter
// queue ("edgevid-tag-dlq"), whose consumer fails its clips with their last
// error, so the job ends `partial` instead of waiting for ever.
import { classifyPlannedClips } from "../classify-clips.ts";
import { ApiError, userError } from "../errors.ts";
import type { Bindings } from "../middleware.ts";
import { getModel } from "../models.ts";
import { MeteredSource, r2Source } from "../mp4/source.ts";
import { TagBatchSchema, type TagBatch } from "./batches.ts";
import { coordinatorFor, type ErrorNote } from "./coordinator.ts";
import type { ClipFailure, ClipResult, PlannedClip } from "./schema.ts";

/** wrangler.toml's dead-letter queue; every other queue this Worker consumes carries batches. */
export const DLQ_NAME = "edgevid-tag-dlq";
/** wrangler.toml's max_retries for the batch queue, plus the first delivery. */
export const MAX_ATTEMPTS = 6;
/** Retry n waits BASE·2^(n−1) s, at most MAX: 10, 20, 40, 80, 160 s with 6 attempts. */
export const BACKOFF = { baseSeconds: 10, maxSeconds: 900 } as const;

export const backoffSeconds = (attempts: number) => Math.min(BACKOFF.baseSeconds * 2 ** (Math.max(attempts, 1) - 1), BACKOFF.maxSeconds);

/**
 * Test-only fault injection (off unless the FAULT_INJECTION var is set):
 *   "throw:K/M"         batches whose number b has b mod M < K throw on their first delivery;
 *   "throw-always:K/M"  ... on every delivery (they end in the dead-letter queue).
 */
export interface Faults {
  fails(batch: number, attempts: number): boolean;
}

export function parseFaults(spec: string | undefined): Faults {
  if (spec === undefined || spec === "") return { fails: () => false };
  const m = /^(throw|throw-always):(\d+)\/(\d+)$/.exec(spec);
  if (!m || Number(m[3]) === 0) throw new Error(`FAULT_INJECTION=${JSON.stringify(spec)}: expected "throw:K/M" or "throw-always:K/M"`);
  const [always, k, n] = [m[1] === "throw-always", Number(m[2]), Number(m[3])];
  return { fails: (batch, attempts) => batch % n < k && (always || attempts === 1) };
}

function bytesOf(base64: string): Uint8Array {
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

/** The given clips of one batch → their results, and the bytes read for them (only their keyframes' ranges). */
export async function classifyBatch(env: Bindings, body: TagBatch, clips: PlannedClip[]): Promise<{ results: ClipResult[]; bytesRead: number }> {
  const model = await getModel(env.MODELS, body.model.id, body.model.version);
  const { manifest } = model;
  if (manifest.model.sha256 !== body.model.sha256) {
    throw userError(409, "model_changed", `model ${manifest.id}@${manifest.version} was replaced after the job was planned`, "a model version that stays in place until its job ends");
  }
  const source = new MeteredSource(await r2Source(env.VIDEOS, body.video.key, body.video.etag));
  const results = await classifyPlannedClips(source, bytesOf(body.video.avcC), body.samples, clips, model, body.topk);
  return { results, bytesRead: source.bytesRead };
}

/** The user's video or model is at fault (a 4xx ApiError): retrying cannot help. */
const permanent = (error: unknown): error is ApiError => error instanceof ApiError && error.status < 500;

const note = (error: unknown): ErrorNote =>
  error instanceof ApiError ? { code: error.code, message: error.message } : { code: "consumer_error", message: String((error as Error)?.message ?? error) };

async function handleBatch(message: Message<unknown>, env: Bindings, faults: Faults): Promise<string> {
  const parsed = TagBatchSchema.safeParse(message.body);
  // A message that is not a batch can never succeed: log it and let it go.
  if (!parsed.success) return `dropped: not a batch (${parsed.error.issues[0]?.message})`;
  const body = parsed.data;
  const job = coordinatorFor(env, body.jobId);
  let clips: PlannedClip[] = [];
  try {
    const { live, status, pending } = await job.pending(body.clips.map((c) => c.id));
    if (!live) return `skipped: job ${status ?? "unknown"}`;
    if (pending.length === 0) return "skipped: every clip has a result";
    clips = body.clips.filter((c) => pending.includes(c.id));
    if (faults.fails(body.batch, message.attempts)) throw new Error(`injected fault (FAULT_INJECTION) on batch ${body.batch}, attempt ${message.attempts}`);
    const { results, bytesRead } = await classifyBatch(env, body, clips);
    const { stored, duplicates } = await job.report(results);
    return `reported: ${stored} stored, ${duplicates} already there; read ${bytesRead} bytes`;
  } catch (error) {
    const why = note(error);
    if (permanent(error)) {
      const failures: ClipFailure[] = clips.map((c) => ({ id: c.id, start: c.start, end: c.end, ...why, attempts: message.attempts }));
      await job.report([], failures);
      return `failed: ${why.code}`;
    }
    // Kept for the failure record if this batch ends in the dead-letter queue.
    await job.attemptFailed(clips.map((c) => c.id), why).catch(() => undefined);
    throw error;
  }
}

async function handleDeadLetter(message: Message<unknown>, env: Bindings): Promise<string> {
  const parsed = TagBatchSchema.safeParse(message.body);
  if (!parsed.success) return "dropped: not a batch";
  const { stored } = await coordinatorFor(env, parsed.data.jobId).deadLettered(parsed.data.clips.map((c) => c.id), MAX_ATTEMPTS);
  return `dead-lettered: ${stored} clips failed`;
}

export async function queue(batch: MessageBatch<unknown>, env: Bindings): Promise<void> {
  const dead = batch.queue === DLQ_NAME;
  const faults = parseFaults(env.FAULT_INJECTION);
  // One message at a time: each is budgeted to a share of the invocation's CPU (batches.ts).
  for (const message of batch.messages) {
    const t0 = performance.now();
    const log: Record<string, unknown> = { queue: batch.queue, messageId: message.id, attempts: message.attempts };
    try {
      log.outcome = dead ? await handleDeadLetter(message, env) : await handleBatch(message, env, faults);
      message.ack();
    } catch (error) {
      log.error = String((error as Error)?.message ?? error);
      log.retryInSeconds = backoffSeconds(message.attempts);
      message.retry({ delaySeconds: backoffSeconds(message.attempts) });
    }
    log.ms = Math.round(performance.now() - t0);
    console.log(JSON.stringify(log));
  }
}
