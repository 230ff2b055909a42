// The API's shapes as zod schemas: what each route takes and answers. The
// handlers parse their input with these, the tests validate real answers
// against them, and the OpenAPI document (openapi.ts) is generated from them,
// so the three cannot drift apart.
import { z } from "zod";
import { ManifestSchema } from "../../contract/manifest.ts";
import { DEFAULT_MODEL } from "./models.ts";
import { ApiKeyRecordSchema } from "./keys.ts";
import { LIMITS } from "./limits.ts";
import { JobSchema } from "./jobs/schema.ts";
import { CreateJobSchema, JobCreatedSchema, JobIdSchema, JobListQuerySchema, JobListSchema } from "./jobs/requests.ts";
import { CreateUploadSchema, PartStoredSchema, PutVideoQuerySchema, StoredVideoSchema, UploadAbortedSchema, UploadCreatedSchema, UploadIdSchema, UploadStatusSchema, VideoNameSchema } from "./uploads/schemas.ts";

/** A count option: decimal text for an integer from 1 to `max`. */
const count = (max: number) =>
  z
    .string()
    .regex(/^[0-9]{1,5}$/, "must be a positive integer")
    .transform(Number)
    .pipe(z.number().int().min(1, "must be at least 1").max(max, `must be at most ${max}`));

/** A yes/no option: 1/true or 0/false. */
const flag = z
  .enum(["1", "true", "0", "false"], { message: "must be 1, true, 0 or false" })
  .transform((v) => v === "1" || v === "true");

/** POST /v1/classify options, from the query string or form fields (all strings on the wire). */
export const ClassifyOptionsSchema = z
  .object({
    // The manifest's own rules for ids and versions.
    model: ManifestSchema.shape.id.default(DEFAULT_MODEL).describe('a model id; "default" is the bundled model'),
    version: z.union([z.literal("latest"), ManifestSchema.shape.version]).default("latest").describe('a version, or "latest"'),
    topk: z
      .string()
      .regex(/^[0-9]{1,5}$/, "must be a positive integer")
      .transform(Number)
      .pipe(z.number().int().min(1, "must be at least 1"))
      .optional()
      .describe("how many labels to answer, from 1 to the model's label count (default 5)"),
    clips: count(LIMITS.clips)
      .optional()
      .describe("video input: clips per video, evenly spaced (default: the model's sampling plan); their probabilities are averaged"),
    frames: count(LIMITS.frames)
      .optional()
      .describe("video input: keyframes per clip, the nearest keyframe to each of that many evenly spaced times (default: the model's)"),
    r2Key: z.string().min(1).max(1024).optional().describe("input: the key of an MP4 object in the VIDEOS R2 bucket, read with range requests"),
    url: z
      .string()
      .min(1)
      .max(4096)
      .optional()
      .describe("input: an http(s) URL of an MP4 that answers Range requests (private, loopback and link-local addresses are refused)"),
    explain: flag
      .optional()
      .describe("1: per-frame heatmaps of where the model found the explained class (needs a model compiled with --explain; else 409 explain_unavailable)"),
    label: z.string().min(1).max(256).optional().describe("with explain: the label to explain (default: the answer's best)"),
    thumbnails: flag.optional().describe("1: each decoded frame as the model sees it (its centre crop), as a PNG data URL"),
  })
  .strict();

export type ClassifyOptions = z.infer<typeof ClassifyOptionsSchema>;

// ---- Responses -------------------------------------------------------------
// Strict objects: a field a handler adds without documenting it fails the
// conformance test (worker/test/openapi.test.ts) instead of drifting silently.

export const ErrorBodySchema = z
  .object({
    error: z
      .object({
        code: z.string().describe('machine-readable, e.g. "invalid_option", "rate_limited"'),
        message: z.string().describe("what was wrong, for people"),
        accepted: z.string().optional().describe("what the client may send instead (4xx only)"),
      })
      .strict(),
    requestId: z.string().describe("also in the X-Request-Id header; names the request in the logs"),
  })
  .strict();

export const HealthzSchema = z.object({ status: z.literal("ok") }).strict();

export const ModelSummarySchema = z
  .object({
    id: ManifestSchema.shape.id,
    version: ManifestSchema.shape.version,
    source: z.enum(["bundled", "r2"]),
    latest: z.boolean().describe('whether version "latest" resolves to this one'),
    sha256: ManifestSchema.shape.model.shape.sha256,
    labelCount: z.number().int().min(2),
    labels: ManifestSchema.shape.labels,
    input: ManifestSchema.shape.input,
    output: ManifestSchema.shape.output,
    sampling: ManifestSchema.shape.sampling,
  })
  .strict();

export const ModelsResponseSchema = z
  .object({
    models: z.array(ModelSummarySchema),
    invalid: z.array(z.object({ key: z.string(), problem: z.string() }).strict()).describe("manifests in R2 that failed validation (not served)"),
  })
  .strict();

const PredictionSchema = z
  .object({ label: z.string(), index: z.number().int().min(0), score: z.number().min(0).max(1).describe("probability") })
  .strict();

const millis = z.number().min(0);

const time = z.number().nullable().describe("presentation time in seconds (null for uploaded frames)");

const ExplainSchema = z
  .object({
    label: z.string().describe("the class explained"),
    index: z.number().int().min(0),
    grid: z
      .object({ t: z.number().int().min(1), h: z.number().int().min(1), w: z.number().int().min(1) })
      .strict()
      .describe("the class map's time steps and rows × columns over the centre crop"),
    clips: z
      .array(
        z
          .object({
            start: time,
            end: time,
            frames: z
              .array(
                z
                  .object({ time, heatmap: z.array(z.number().min(0).max(1)).describe("h·w values, row-major; 1 is the clip's strongest evidence") })
                  .strict(),
              )
              .describe("one per model frame slot, over that slot's frame"),
          })
          .strict(),
      )
      .min(1),
    ms: millis.describe("time spent making the heatmaps (the class map itself is computed in inference)"),
  })
  .strict()
  .describe("with explain=1: where the model found the explained class, Grad-CAM at its head's pool input, computed forward-only");

const KeyframesSchema = z
  .array(z.object({ time, image: z.string().startsWith("data:image/png;base64,") }).strict())
  .describe("with thumbnails=1: each decoded frame as the model sees it (the centre crop), in time order");

const AnswerBase = {
  requestId: z.string(),
  model: z.object({ id: ManifestSchema.shape.id, version: ManifestSchema.shape.version, sha256: ManifestSchema.shape.model.shape.sha256 }).strict(),
  top: z.array(PredictionSchema).min(1).describe("the k best labels, highest score first"),
  explain: ExplainSchema.optional(),
  keyframes: KeyframesSchema.optional(),
};

/** The answer for uploaded frames: one clip. */
export const ClassifyFramesResponseSchema = z
  .object({
    ...AnswerBase,
    frames: z.object({ received: z.number().int().min(1), used: z.number().int().min(1) }).strict(),
    timing: z.object({ decodeMs: millis, preprocessMs: millis, inferenceMs: millis, thumbnailsMs: millis.optional(), totalMs: millis }).strict(),
  })
  .strict()
  .describe("for uploaded frames (one clip):");

/** The answer for a video: clips of keyframes, `top` from the mean of the clips' probabilities. */
export const ClassifyVideoResponseSchema = z
  .object({
    ...AnswerBase,
    clips: z
      .array(
        z
          .object({
            start: z.number().describe("seconds"),
            end: z.number().describe("seconds"),
            keyframeTimes: z.array(z.number()).describe("presentation time (seconds) of the keyframe behind each of the clip's frames"),
            top: z.array(PredictionSchema).min(1).describe("this clip's k best labels"),
          })
          .strict(),
      )
      .min(1),
    frames: z.object({ perClip: z.number().int().min(1), decoded: z.number().int().min(1) }).strict().describe("keyframes per clip; distinct keyframes decoded"),
    video: z
      .object({ codec: z.string(), width: z.number().int(), height: z.number().int(), durationSeconds: z.number(), bytes: z.number().int() })
      .strict()
      .describe("the video as indexed: RFC 6381 codec, size, duration, file size"),
    bytesRead: z.number().int().min(0).describe("bytes read from the video: its index and the chosen keyframes"),
    timing: z
      .object({ indexMs: millis, readMs: millis, decodeMs: millis, preprocessMs: millis, inferenceMs: millis, thumbnailsMs: millis.optional(), totalMs: millis })
      .strict(),
  })
  .strict()
  .describe("for a video (clips of keyframes):");

export const ClassifyResponseSchema = z.union([ClassifyFramesResponseSchema, ClassifyVideoResponseSchema]);

/** multipart/form-data of POST /v1/classify: frames or a video (or r2Key/url fields), plus any option as a form field. */
export const ClassifyFormSchema = ClassifyOptionsSchema.extend({
  frames: z
    .array(z.file().mime(["image/jpeg", "image/png"]))
    .min(1)
    .max(LIMITS.frames)
    .optional()
    .describe("JPEG or PNG images of one size, in temporal order (the type is sniffed from the bytes)"),
  video: z.file().optional().describe("an MP4 with H.264 video (8-bit 4:2:0)"),
});

export const RevokedKeySchema = z
  .object({ id: z.string().describe("the key's id"), revoked: z.iso.datetime().describe("when the key was first revoked") })
  .strict();

export const OpenApiDocumentSchema = z
  .object({ openapi: z.string().regex(/^3\.1\./), info: z.object({ title: z.string(), version: z.string() }).passthrough(), paths: z.record(z.string(), z.unknown()) })
  .passthrough();

// ---- Routes ----------------------------------------------------------------

export interface ResponseDoc {
  description: string;
  schema: z.ZodType;
  /** Default application/json. */
  contentType?: string;
  example?: unknown;
}

export interface RouteDoc {
  method: "get" | "post" | "put" | "delete";
  path: string;
  summary: string;
  description: string;
  /** Behind API keys and per-key rate limits (auth.ts, ratelimit.ts). */
  auth: boolean;
  /** Behind the ADMIN_TOKEN secret (admin.ts). */
  admin?: boolean;
  /** Path parameters, named as in `path` ({name}). */
  params?: z.ZodObject;
  query?: z.ZodObject;
  /** Request bodies by content type. */
  body?: Record<string, z.ZodType>;
  responses: Record<number, ResponseDoc>;
}

const errorExample = (code: string, message: string, accepted: string) => ({
  error: { code, message, accepted },
  requestId: "0b0f0b4e-6c53-4d3a-9a57-2a3e1f7f4b11",
});

const error = (description: string, example?: unknown): ResponseDoc => ({ description, schema: ErrorBodySchema, example });
/** Routes behind the per-isolate admission gate (admission.ts). */
const BUSY_TEXT = "busy: more requests are waiting for this isolate than its queue holds, or this one waited too long; retry after Retry-After seconds";
const busy = (also?: string) =>
  error(also ? `${BUSY_TEXT}; or ${also}` : BUSY_TEXT, errorExample("busy", "the server is busy: 64 requests are already waiting; retry after the Retry-After header's seconds", "the same request again after Retry-After seconds"));

/** Every route the app serves; index.ts wires the handlers, the document and docs page come from here. */
export const ROUTES: RouteDoc[] = [
  {
    method: "post",
    path: "/v1/classify",
    summary: "Classify a video or a clip of frames",
    description:
      "Exactly one input: an MP4 (a video/mp4 body, a multipart \"video\" file, an R2 key or an http(s) URL, the last two read with range requests), " +
      "or uploaded frames. A video is indexed, the model's sampling plan picks the keyframe nearest each target time of each clip, only those " +
      "samples are read and decoded, and the clips' probabilities are averaged. Uploaded frames fill the model's T slots with a uniform temporal " +
      "subsample (fewer frames repeat). Every frame is resized on its short side and centre-cropped as the manifest says. Options come from the " +
      "query, form fields or a JSON body.",
    auth: true,
    query: ClassifyOptionsSchema,
    body: {
      "video/mp4": z.file().describe("the MP4 itself"),
      "multipart/form-data": ClassifyFormSchema,
      "application/json": z.object(ClassifyOptionsSchema.shape).partial().strict().describe("r2Key or url, and options (numbers may be JSON numbers)"),
      "application/x-www-form-urlencoded": ClassifyOptionsSchema,
    },
    responses: {
      200: {
        description: "the top-k labels",
        schema: ClassifyResponseSchema,
        example: {
          requestId: "0b0f0b4e-6c53-4d3a-9a57-2a3e1f7f4b11",
          model: { id: "x3d-tiny-synthetic", version: "1", sha256: "9f2c1a5e3b7d4c6a8e0f1b2d3c4e5f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4" },
          top: [
            { label: "move_left", index: 0, score: 0.91 },
            { label: "rotate_cw", index: 6, score: 0.05 },
          ],
          frames: { received: 8, used: 8 },
          timing: { decodeMs: 6.1, preprocessMs: 1.2, inferenceMs: 14.8, totalMs: 23.4 },
        },
      },
      400: error("bad options, frames or form", errorExample("invalid_option", "topk: must be a positive integer", "query or form fields: …")),
      404: error("no such model or version, or no such R2 key"),
      413: error("the body is larger than MAX_BODY_BYTES"),
      415: error("an unaccepted content type; a frame that is not JPEG or PNG; a video that is not MP4, not H.264, or not 8-bit 4:2:0"),
      422: error(
        "a video that cannot be used: truncated, corrupt, no video track, no keyframes, too long, absurd dimensions, or a URL that cannot be read",
        errorExample("truncated_video", "the video/mp4 body: the mdat box at byte 40 needs 188676 bytes but the file ends at byte 20000: it is truncated", "an MP4 …"),
      ),
      503: busy(),
    },
  },
  {
    method: "get",
    path: "/v1/models",
    summary: "List the models served",
    description: "The bundled model and every valid manifest in R2 (models/<id>/<version>/), with labels, input contract and sampling plan.",
    auth: true,
    responses: { 200: { description: "the models", schema: ModelsResponseSchema } },
  },
  {
    method: "post",
    path: "/admin/keys/{id}/revoke",
    summary: "Revoke an API key at once",
    description:
      "Marks the key revoked in its Durable Object, which every request of the key consults: refused from the next request on, everywhere. " +
      "`npm run keys -- revoke ID --url URL` calls this after updating the key's KV record. Off unless the Worker has an ADMIN_TOKEN secret.",
    auth: false,
    admin: true,
    params: z.object({ id: ApiKeyRecordSchema.shape.id.describe("the key's id, as `npm run keys -- list` shows") }),
    responses: {
      200: { description: "the key is revoked", schema: RevokedKeySchema, example: { id: "key_5d1360d3854e3c70", revoked: "2026-11-25T18:38:25.766Z" } },
      400: error("not a key id"),
      401: error("no or a wrong admin token (with a WWW-Authenticate: Bearer challenge)"),
      403: error("the admin API is off (no ADMIN_TOKEN secret)"),
    },
  },
  {
    method: "get",
    path: "/healthz",
    summary: "Liveness",
    description: "Answers without touching models or storage. Public.",
    auth: false,
    responses: { 200: { description: "the Worker is up", schema: HealthzSchema, example: { status: "ok" } } },
  },
  {
    method: "get",
    path: "/openapi.json",
    summary: "This API as OpenAPI 3.1",
    description: "Generated from the route schemas the Worker validates with. Public.",
    auth: false,
    responses: { 200: { description: "the OpenAPI document", schema: OpenApiDocumentSchema } },
  },
  {
    method: "get",
    path: "/docs",
    summary: "This API as a page",
    description: "The OpenAPI document rendered as one self-contained HTML page (no scripts, no external resources). Public.",
    auth: false,
    responses: { 200: { description: "an HTML page", schema: z.string(), contentType: "text/html" } },
  },
  ...uploadRoutes(),
  ...jobRoutes(),
];

/** The job routes (worker/src/jobs/routes.ts). */
function jobRoutes(): RouteDoc[] {
  const id = z.object({ id: JobIdSchema });
  const notFound = error("no such job for this API key");
  return [
    {
      method: "post",
      path: "/v1/jobs",
      summary: "Tag a long video",
      description:
        "Plans the video from its MP4 index alone (no frame is read): clipsPerVideo clips evenly spaced over the whole video (PyTorchVideo's " +
        "constant_clips_per_video with the model's clip duration and frames per clip), the keyframe behind each frame. The clips go to a queue in " +
        "batches sized to a consumer's CPU budget; consumers read only their keyframes' bytes, classify, and report to the job, which stores each " +
        "clip's result once and ends with video-level tags (top-k of the clips' mean softmax) and segments (runs of clips with the same top label). " +
        "A video the index shows to be unusable is refused here (4xx, no job); keyframes that do not decode fail their clips, and a job whose " +
        "every clip failed ends `failed` with the decoder's error. Poll GET /v1/jobs/{id}.",
      auth: true,
      body: { "application/json": CreateJobSchema },
      responses: {
        202: {
          description: "the job is queued (Location: its URL)",
          schema: JobCreatedSchema,
          example: { id: "job_8e0c6a3f1b2d4e5f9a7b6c5d4e3f2a1b", status: "queued", clips: 64, batches: 16, links: { self: "/v1/jobs/job_8e0c6a3f1b2d4e5f9a7b6c5d4e3f2a1b" } },
        },
        400: error("a bad body (video, clipsPerVideo, topk, webhook URL)"),
        404: error("no such model or version, or no such video in the VIDEOS bucket"),
        415: error("the video is not MP4, not H.264, or not 8-bit 4:2:0"),
        422: error("the video cannot be used: truncated, corrupt index, no video track, no keyframes, too long"),
        503: busy("the queue did not take the job's batches (the job is recorded as failed)"),
      },
    },
    {
      method: "get",
      path: "/v1/jobs",
      summary: "List your jobs",
      description: "The caller's jobs (by API key; all keyless requests share \"anonymous\"), newest first, a page at a time.",
      auth: true,
      query: JobListQuerySchema,
      responses: { 200: { description: "a page of jobs", schema: JobListSchema }, 400: error("a bad limit or cursor") },
    },
    {
      method: "get",
      path: "/v1/jobs/{id}",
      summary: "A job's status and results",
      description:
        "Status (queued, running, completed, partial, failed, cancelled), progress, and once it has ended: tags, segments, every clip's result " +
        "(sorted by clip id) and every failed clip with its error code, message and attempts.",
      auth: true,
      params: id,
      responses: { 200: { description: "the job", schema: JobSchema }, 400: error("not a job id"), 404: notFound },
    },
    {
      method: "delete",
      path: "/v1/jobs/{id}",
      summary: "Cancel a job",
      description: "The job ends `cancelled`; consumers drop its batches still in the queue. Results already stored stay readable. Cancelling again answers the same.",
      auth: true,
      params: id,
      responses: { 200: { description: "the cancelled job", schema: JobSchema }, 400: error("not a job id"), 404: notFound, 409: error("the job has already ended") },
    },
    ...(
      [
        ["results.csv", "text/csv", "The results as CSV", "One row per clip of the plan in clip order: clip, start, end (seconds), top label and score, error (for a failed clip), then the clip's probability for every label, a column per label (RFC 4180, CRLF)."],
        ["results.vtt", "text/vtt", "The segments as a WebVTT track", "One cue per segment (a run of clips with the same top label): HH:MM:SS.mmm times, the label and its mean score; load it as a subtitle track over the video. Segments appear once the job has ended."],
        ["timeline", "text/html", "The timeline as a page", "A self-contained HTML page (inline SVG, no scripts, no external resources): the segments coloured by label along the video's duration, a score strip per leading label over the clips, failed clips, and the tags."],
      ] as const
    ).map(([file, type, summary, description]): RouteDoc => ({
      method: "get",
      path: `/v1/jobs/{id}/${file}`,
      summary,
      description,
      auth: true,
      params: id,
      responses: { 200: { description: summary.toLowerCase().replace(/^the /, "the job's "), schema: z.string(), contentType: type }, 400: error("not a job id"), 404: notFound },
    })),
  ];
}

/** The upload routes (worker/src/uploads/routes.ts). */
function uploadRoutes(): RouteDoc[] {
  const uploadId = z.object({ uploadId: UploadIdSchema });
  const notFound = error("no such upload (never started, aborted, or its video was refused), or R2 has dropped the unfinished upload (upload_expired)");
  const forbidden = error("the upload belongs to another API key");
  const refused = error(
    "the file is not a usable video (not MP4, not H.264 8-bit 4:2:0, truncated, corrupt, too long): it was deleted; code and message are the indexer's",
    errorExample("unsupported_codec", 'R2 object "videos/key_5d1360d3854e3c70/clip.mp4": its video is HEVC (H.265, hvc1); only H.264 (avc1/avc3) is decoded; the upload was not kept', "an MP4 …"),
  );
  const stored = { description: "the stored video, ready for POST /v1/classify (r2Key) and POST /v1/jobs", schema: StoredVideoSchema };
  const taken = error(
    "a video is already stored under the name and overwrite was not asked for (nothing was stored)",
    errorExample("video_exists", "a video is already stored at videos/key_5d1360d3854e3c70/lecture.mp4", "another name, or overwrite=true to replace it"),
  );
  return [
    {
      method: "put",
      path: "/v1/videos/{name}",
      summary: "Upload a small video in one request",
      description:
        "Stores the MP4 body at videos/<key id>/<name> in the VIDEOS bucket after indexing it: a file that is not a usable " +
        "H.264 MP4 is refused and never stored, and a video already under the name stays as it was. Create-only by default (as If-None-Match: *): " +
        "a taken name is a 409 unless overwrite=true, which replaces the old video in one atomic put. Bodies up to MAX_BODY_BYTES; larger files go through POST /v1/uploads.",
      auth: true,
      params: z.object({ name: VideoNameSchema }),
      query: PutVideoQuerySchema,
      body: { "video/mp4": z.file().describe("the MP4 itself") },
      responses: {
        201: stored,
        400: error("a bad name or an empty body"),
        413: error("the body is larger than MAX_BODY_BYTES: use POST /v1/uploads"),
        409: taken,
        415: error("the body is not video/mp4"),
        422: refused,
        503: busy(),
      },
    },
    {
      method: "post",
      path: "/v1/uploads",
      summary: "Start a resumable upload",
      description:
        "Starts an R2 multipart upload of a file of `bytes` bytes to videos/<key id>/<filename>. Send parts 1 to `parts` with PUT (each exactly " +
        "`partSize` bytes but the last, in any order, in parallel, again after a failure), then POST …/complete. After a dropped connection, " +
        "GET /v1/uploads/{uploadId} says which parts are stored. The parts are assembled away from the name (uploads/<id>/video) and reach it only once checked; " +
        "a taken name is refused here and at completion unless `overwrite` is true. `npm run upload -- FILE --url URL` does all of this with retries.",
      auth: true,
      body: { "application/json": CreateUploadSchema },
      responses: {
        201: {
          description: "the upload is open",
          schema: UploadCreatedSchema,
          example: { uploadId: "up_3f1c9a0b5d7e4f2a8c6b1d0e9f8a7b6c", key: "videos/key_5d1360d3854e3c70/lecture.mp4", bytes: 734003200, partSize: 8388608, parts: 88 },
        },
        400: error("a bad filename, size, content type or part size"),
        409: taken,
      },
    },
    {
      method: "put",
      path: "/v1/uploads/{uploadId}/parts/{part}",
      summary: "Upload one part",
      description:
        "The part's bytes, streamed into R2. Every part but the last must be exactly partSize bytes (R2 requires equal parts of at least 5 MiB), " +
        "the last the rest of the file; the Content-Length is checked before anything is stored. Sending a part again replaces it.",
      auth: true,
      params: uploadId.extend({ part: z.string().regex(/^[0-9]{1,5}$/).describe("the part number, 1 to parts") }),
      body: { "application/octet-stream": z.file().describe("the part's bytes") },
      responses: {
        200: { description: "the part is stored", schema: PartStoredSchema },
        400: error("a part number out of range, or a Content-Length that is not the part's size"),
        403: forbidden,
        404: notFound,
        409: error("the upload is already completed"),
        411: error("no Content-Length"),
      },
    },
    {
      method: "get",
      path: "/v1/uploads/{uploadId}",
      summary: "An upload's progress",
      description: "Which parts are stored: a client that lost its connection sends only the others, then completes. A completed upload shows its result.",
      auth: true,
      params: uploadId,
      responses: { 200: { description: "the upload's state", schema: UploadStatusSchema }, 400: error("not an upload id"), 403: forbidden, 404: notFound },
    },
    {
      method: "post",
      path: "/v1/uploads/{uploadId}/complete",
      summary: "Complete an upload",
      description:
        "Assembles the parts at a staging key and indexes them (reading only the MP4's index); only a usable H.264 MP4 is then copied to its name, in one " +
        "atomic put. A file that is not is deleted with its upload (422), and a video already under the name is untouched. Asking again after success answers the same.",
      auth: true,
      params: uploadId,
      responses: {
        200: stored,
        400: error("not an upload id"),
        403: forbidden,
        404: notFound,
        409: error("parts are missing (upload_incomplete, the message lists them), or the name was taken meanwhile without overwrite (video_exists: the upload is not kept)"),
        422: refused,
        503: busy(),
      },
    },
    {
      method: "delete",
      path: "/v1/uploads/{uploadId}",
      summary: "Abort an upload",
      description: "Aborts the R2 multipart upload and forgets its parts.",
      auth: true,
      params: uploadId,
      responses: { 200: { description: "aborted", schema: UploadAbortedSchema }, 400: error("not an upload id"), 403: forbidden, 404: notFound, 409: error("the upload is already completed") },
    },
  ];
}

/** Answers every route under API keys may give, besides its own. */
export const AUTH_RESPONSES: Record<number, ResponseDoc> = {
  401: error(
    "no, an unknown or a revoked API key (with a WWW-Authenticate: Bearer challenge)",
    errorExample("missing_api_key", "the request has no Authorization header", 'an "Authorization: Bearer <key>" header …'),
  ),
  429: error(
    "the key's rate limit is used up: retry after Retry-After seconds",
    errorExample("rate_limited", "API key key_5d1360d3854e3c70 has no requests left; one is allowed again in 42 s", "at most 60 requests per minute …"),
  ),
};
