// Long-video tagging: the shapes that the planner, the queue consumers, the
// per-job Durable Object, the renderers (JSON/CSV/WebVTT/timeline) and
// `npm run tag` in Node all share. One source, so the Worker's answer and the
// local CLI's files cannot drift apart.
import { z } from "zod";

export const JOB_STATUSES = ["queued", "running", "completed", "partial", "failed", "cancelled"] as const;
export const JobStatusSchema = z.enum(JOB_STATUSES);
export type JobStatus = z.infer<typeof JobStatusSchema>;

export const PredictionSchema = z.object({ label: z.string(), score: z.number() }).strict();

/** One clip of the constant-clips-per-video plan: its window and the keyframes it reads. */
export const PlannedClipSchema = z
  .object({
    /** 0-based index in the plan; the idempotency key of its result. */
    id: z.number().int().nonnegative(),
    start: z.number().nonnegative(),
    end: z.number().nonnegative(),
    /** Indices into the MP4 index's samples (presentation order), one per frame slot. */
    samples: z.array(z.number().int().nonnegative()),
    /** Seconds from the first frame, one per frame slot. */
    keyframeTimes: z.array(z.number()),
  })
  .strict();
export type PlannedClip = z.infer<typeof PlannedClipSchema>;

export const ClipResultSchema = z
  .object({
    id: z.number().int().nonnegative(),
    start: z.number(),
    end: z.number(),
    keyframeTimes: z.array(z.number()),
    /** The clip's softmax over all labels, in the manifest's label order. */
    scores: z.array(z.number()),
    top: z.array(PredictionSchema),
  })
  .strict();
export type ClipResult = z.infer<typeof ClipResultSchema>;

export const ClipFailureSchema = z
  .object({ id: z.number().int().nonnegative(), start: z.number(), end: z.number(), code: z.string(), message: z.string(), attempts: z.number().int() })
  .strict();
export type ClipFailure = z.infer<typeof ClipFailureSchema>;

/** Consecutive clips with the same top label, merged. */
export const SegmentSchema = z.object({ start: z.number(), end: z.number(), label: z.string(), score: z.number(), clips: z.number().int() }).strict();
export type Segment = z.infer<typeof SegmentSchema>;

export const JobSchema = z
  .object({
    id: z.string(),
    status: JobStatusSchema,
    createdAt: z.string(),
    updatedAt: z.string(),
    finishedAt: z.string().optional(),
    /** The API key id that created the job ("anonymous" when keys are off). */
    owner: z.string(),
    video: z.object({ key: z.string(), bytes: z.number().int(), durationSeconds: z.number(), width: z.number().int(), height: z.number().int(), codec: z.string() }).strict(),
    model: z.object({ id: z.string(), version: z.string(), sha256: z.string() }).strict(),
    labels: z.array(z.string()),
    clipsPerVideo: z.number().int().positive(),
    batches: z.number().int().nonnegative(),
    progress: z.object({ done: z.number().int(), failed: z.number().int(), total: z.number().int() }).strict(),
    /** Video-level tags: the clips' mean softmax, top-k. */
    tags: z.array(PredictionSchema),
    segments: z.array(SegmentSchema),
    clips: z.array(ClipResultSchema),
    failures: z.array(ClipFailureSchema),
    /** Why a job failed as a whole (e.g. a corrupt video), as the API's error body says it. */
    error: z.object({ code: z.string(), message: z.string() }).strict().optional(),
    planning: z.object({ bytesRead: z.number().int(), reads: z.number().int(), ms: z.number() }).strict().optional(),
  })
  .strict();
export type Job = z.infer<typeof JobSchema>;
