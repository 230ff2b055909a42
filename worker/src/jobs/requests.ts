// What the job routes take and answer besides the Job itself (schema.ts): the
// POST body, its 202 answer, the listing. The routes parse with these and the
// OpenAPI document is generated from them (api-schemas.ts).
import { z } from "zod";
import { ManifestSchema } from "../../../contract/manifest.ts";
import { LIMITS } from "../limits.ts";
import { DEFAULT_MODEL } from "../models.ts";
import { JobSummarySchema } from "./job-index.ts";
import { JobStatusSchema } from "./schema.ts";

export const JobIdSchema = z
  .string()
  .regex(/^job_[0-9a-f]{32}$/, "is not a job id")
  .describe("the id POST /v1/jobs answered");

export const CreateJobSchema = z
  .object({
    video: z.string().min(1).max(1024).describe("the key of an MP4 in the VIDEOS bucket (PUT /v1/videos or an upload put it there)"),
    clipsPerVideo: z
      .number()
      .int()
      .min(1)
      .max(LIMITS.jobClips)
      .describe("N: clips evenly spaced over the whole video (PyTorchVideo's constant_clips_per_video with the model's clip duration and frames)"),
    model: ManifestSchema.shape.id.default(DEFAULT_MODEL).describe('a model id; "default" is the bundled model'),
    version: z.union([z.literal("latest"), ManifestSchema.shape.version]).default("latest").describe('a version, or "latest" (resolved once, when the job is made)'),
    topk: z.number().int().min(1).optional().describe("labels per clip and video-level tags (default: 5, or the model's label count if fewer)"),
    webhook: z
      .object({
        url: z.string().min(1).max(2048).describe("an http(s) URL of a public host, called with the job when it ends"),
        secret: z.string().min(16).max(256).optional().describe("signs the webhook's body (Edgevid-Signature: t=…,v1=HMAC-SHA256); without one, a secret is made and answered once"),
      })
      .strict()
      .optional(),
  })
  .strict();
export type CreateJob = z.infer<typeof CreateJobSchema>;

export const JobCreatedSchema = z
  .object({
    id: JobIdSchema,
    status: JobStatusSchema,
    clips: z.number().int().positive().describe("clips planned"),
    batches: z.number().int().positive().describe("queue messages they were sent in"),
    links: z.object({ self: z.string() }).strict(),
    webhook: z
      .object({ url: z.string(), secret: z.string().optional().describe("only when the request had none: the secret made for this job, shown this once") })
      .strict()
      .optional(),
  })
  .strict();

export const JobListQuerySchema = z
  .object({
    limit: z
      .string()
      .regex(/^[0-9]{1,3}$/, "must be an integer from 1 to 100")
      .transform(Number)
      .pipe(z.number().int().min(1).max(100))
      .optional()
      .describe("jobs per page, 1 to 100 (default 20)"),
    cursor: JobIdSchema.optional().describe("the previous page's cursor: the next, older jobs"),
  })
  .strict();

export const JobListSchema = z
  .object({
    jobs: z.array(JobSummarySchema).describe("the caller's jobs, newest first"),
    cursor: JobIdSchema.optional().describe("present when older jobs remain"),
  })
  .strict();
