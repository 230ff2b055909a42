// The upload API's shapes (zod): what POST /v1/uploads takes, what every
// upload route answers, and the state kept per upload. api-schemas.ts lists
// the routes with these, so the OpenAPI document and the handlers agree.
import { z } from "zod";
import { MAX_PART_BYTES, MAX_PARTS, MIN_PART_BYTES } from "./parts.ts";

/** A file name as it appears in the video's key: no slashes, no dot files, no spaces. */
export const VideoNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/, "must be 1 to 200 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit")
  .describe('the video\'s file name, e.g. "lecture-01.mp4"; the video is stored as videos/<key id>/<name>');

export const UploadIdSchema = z
  .string()
  .regex(/^up_[0-9a-f]{32}$/, "must be an upload id (up_ and 32 hex digits)")
  .describe("the upload's id, as POST /v1/uploads answered it");

export const CreateUploadSchema = z
  .object({
    filename: VideoNameSchema,
    bytes: z.number().int().min(1).max(MAX_PARTS * MAX_PART_BYTES).describe("the file's exact size"),
    contentType: z.literal("video/mp4").default("video/mp4").describe("only MP4 (H.264) is accepted"),
    partSize: z
      .number()
      .int()
      .min(MIN_PART_BYTES)
      .max(MAX_PART_BYTES)
      .optional()
      .describe(`bytes per part (every part but the last has exactly this size); default ${8 * 1024 * 1024}, raised for files over ${MAX_PARTS} parts`),
    overwrite: z.boolean().default(false).describe("replace a video already stored under filename (default: refuse with 409 video_exists)"),
  })
  .strict();
export type CreateUpload = z.infer<typeof CreateUploadSchema>;

const VideoInfoSchema = z
  .object({ codec: z.string(), width: z.number().int(), height: z.number().int(), durationSeconds: z.number() })
  .strict()
  .describe("the video as indexed: RFC 6381 codec, size, duration");

/** A stored video: the key to pass as r2Key (classify) or video (jobs). */
export const StoredVideoSchema = z
  .object({ key: z.string(), bytes: z.number().int(), etag: z.string(), video: VideoInfoSchema })
  .strict();
export type StoredVideo = z.infer<typeof StoredVideoSchema>;

/** PUT /v1/videos/:name's query. */
export const PutVideoQuerySchema = z
  .object({
    overwrite: z
      .enum(["true", "false"])
      .default("false")
      .transform((v) => v === "true")
      .describe("true replaces a video already stored under the name; by default the PUT is create-only, as with If-None-Match: *, and a taken name is a 409"),
  })
  .strict();

/** Kept in R2 as the upload's state object (store.ts). */
export const UploadStateSchema = z
  .object({
    id: UploadIdSchema,
    /** The API key id that started it ("anonymous" when keys are off). */
    owner: z.string(),
    key: z.string(),
    bytes: z.number().int(),
    partSize: z.number().int(),
    parts: z.number().int(),
    contentType: z.string(),
    /** Replace a video already at `key` when completing. */
    overwrite: z.boolean(),
    /** R2's own multipart upload id (resumeMultipartUpload), of the staging object (store.ts stagingKey). */
    r2UploadId: z.string(),
    createdAt: z.string(),
    completed: StoredVideoSchema.optional(),
  })
  .strict();
export type UploadState = z.infer<typeof UploadStateSchema>;

export const UploadCreatedSchema = z
  .object({
    uploadId: UploadIdSchema,
    key: z.string().describe("where the video will be in the VIDEOS bucket once completed"),
    bytes: z.number().int(),
    partSize: z.number().int().describe("every part but the last has exactly this many bytes"),
    parts: z.number().int().describe("parts numbered 1 to parts"),
  })
  .strict();

export const UploadStatusSchema = UploadCreatedSchema.extend({
  status: z.enum(["uploading", "completed"]),
  done: z.array(z.number().int()).describe("part numbers already stored, ascending"),
  bytesDone: z.number().int(),
  result: StoredVideoSchema.optional().describe("once completed: the stored video"),
}).strict();

export const PartStoredSchema = z.object({ part: z.number().int(), bytes: z.number().int(), etag: z.string() }).strict();

export const UploadAbortedSchema = z.object({ uploadId: UploadIdSchema, aborted: z.literal(true) }).strict();
