// Video uploads into the VIDEOS bucket, at videos/<key id>/<name>:
//   PUT  /v1/videos/:name                       one request (up to MAX_BODY_BYTES)
//   POST /v1/uploads                            start a resumable multipart upload
//   PUT  /v1/uploads/:uploadId/parts/:part      one part, streamed into R2
//   GET  /v1/uploads/:uploadId                  which parts are done (resume from here)
//   POST /v1/uploads/:uploadId/complete         assemble, index, keep or delete
//   DELETE /v1/uploads/:uploadId                abort
// An upload belongs to the API key that started it; other keys get a 403.
// A video reaches its name only once it is checked, and replaces a video of
// that name only with overwrite (place.ts).
import type { Context } from "hono";
import { ownerOf } from "../auth.ts";
import { describeIssues, userError } from "../errors.ts";
import type { AppEnv } from "../middleware.ts";
import { bytesSource, r2Source } from "../mp4/source.ts";
import { choosePartSize, partBytes, partCount } from "./parts.ts";
import { checkFree, placeVideo, type Placement } from "./place.ts";
import { CreateUploadSchema, PutVideoQuerySchema, UploadIdSchema, VideoNameSchema, type StoredVideo, type UploadState } from "./schemas.ts";
import { deleteParts, deleteUpload, listParts, readState, recordPart, stagingKey, writeState } from "./store.ts";
import { describeVideo } from "./validate.ts";

const ACCEPTED_CREATE = 'a JSON body {"filename": "<name>.mp4", "bytes": <file size>, "contentType": "video/mp4", "partSize"?: <bytes>}';
const ACCEPTED_PUT = "an MP4 body (Content-Type: video/mp4) with a Content-Length; query: overwrite=true|false (default false)";

const videoKey = (owner: string, name: string) => `videos/${owner}/${name}`;

function parseName(text: string): string {
  const parsed = VideoNameSchema.safeParse(text);
  if (!parsed.success) throw userError(400, "invalid_name", `the video name ${JSON.stringify(text)} ${parsed.error.issues[0].message}`, "a file name like lecture-01.mp4");
  return parsed.data;
}

async function jsonBody(c: Context<AppEnv>): Promise<unknown> {
  try {
    return await c.req.json();
  } catch (error) {
    throw userError(400, "malformed_json", `the body is not JSON (${(error as Error).message})`, ACCEPTED_CREATE);
  }
}

/** The upload named in the path, if this request's key owns it. */
async function ownedUpload(c: Context<AppEnv>): Promise<UploadState> {
  const text = c.req.param("uploadId") ?? "";
  const id = UploadIdSchema.safeParse(text);
  if (!id.success) throw userError(400, "invalid_upload_id", `${JSON.stringify(text)} is not an upload id`, "the uploadId that POST /v1/uploads answered");
  const state = await readState(c.env.VIDEOS, id.data);
  if (!state) throw userError(404, "upload_not_found", `no upload ${id.data} (never started, aborted, or its video was refused)`, "the uploadId of an upload in progress; start one with POST /v1/uploads");
  if (state.owner !== ownerOf(c)) throw userError(403, "upload_forbidden", `upload ${state.id} belongs to another API key`, "the API key that started the upload");
  return state;
}

function notCompleted(state: UploadState): void {
  if (state.completed) throw userError(409, "upload_completed", `upload ${state.id} is already completed as ${state.key}`, "an upload in progress");
}

/** R2 drops unfinished multipart uploads (after 7 days by default): then the upload's state goes too, and the client hears why. */
async function inR2<T>(c: Context<AppEnv>, state: UploadState, call: (upload: R2MultipartUpload) => Promise<T>): Promise<T> {
  try {
    return await call(c.env.VIDEOS.resumeMultipartUpload(stagingKey(state.id), state.r2UploadId));
  } catch (error) {
    // R2's error 10024: "The specified multipart upload does not exist."
    if (!String((error as Error).message).includes("(10024)")) throw error;
    await deleteUpload(c.env.VIDEOS, state.id);
    throw userError(404, "upload_expired", `upload ${state.id} no longer exists in R2 (unfinished uploads are dropped after some days)`, "a new upload: POST /v1/uploads");
  }
}

const created = (state: UploadState) => ({ uploadId: state.id, key: state.key, bytes: state.bytes, partSize: state.partSize, parts: state.parts });

export async function createUpload(c: Context<AppEnv>): Promise<Response> {
  const parsed = CreateUploadSchema.safeParse(await jsonBody(c));
  if (!parsed.success) {
    throw userError(400, "invalid_upload", describeIssues(parsed.error.issues), ACCEPTED_CREATE);
  }
  const { filename, bytes, contentType, partSize: requested, overwrite } = parsed.data;
  const owner = ownerOf(c);
  const key = videoKey(owner, filename);
  // Refused now rather than after the client has sent every part.
  await checkFree(c.env.VIDEOS, { key, owner, overwrite });
  const partSize = choosePartSize(bytes, requested);
  const id = `up_${[...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
  const upload = await c.env.VIDEOS.createMultipartUpload(stagingKey(id), { httpMetadata: { contentType }, customMetadata: { owner, uploadId: id } });
  const state: UploadState = {
    id,
    owner,
    key,
    bytes,
    partSize,
    parts: partCount(bytes, partSize),
    contentType,
    overwrite,
    r2UploadId: upload.uploadId,
    createdAt: new Date().toISOString(),
  };
  await writeState(c.env.VIDEOS, state);
  return c.json(created(state), 201);
}

export async function putPart(c: Context<AppEnv>): Promise<Response> {
  const state = await ownedUpload(c);
  notCompleted(state);
  const text = c.req.param("part") ?? "";
  const n = /^[0-9]{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= state.parts)) throw userError(400, "invalid_part", `part ${JSON.stringify(text)} is not one of 1 to ${state.parts}`, `a part number from 1 to ${state.parts}`);
  const expected = partBytes(n, state.bytes, state.partSize);
  const which = n < state.parts ? `part ${n} of ${state.parts} must be exactly partSize, ${expected} bytes` : `the last part (${n}) must be ${expected} bytes`;
  const length = c.req.header("content-length");
  if (length === undefined || c.req.raw.body === null) throw userError(411, "length_required", `${which}; the request has no Content-Length`, "the part's bytes with a Content-Length header");
  if (Number(length) !== expected) throw userError(400, "wrong_part_size", `${which}, not ${length}`, `${expected} bytes`);
  // Streamed: the part never sits whole in the isolate's memory.
  const body = c.req.raw.body;
  const uploaded = await inR2(c, state, (upload) => upload.uploadPart(n, body));
  await recordPart(c.env.VIDEOS, state.id, { part: n, etag: uploaded.etag, bytes: expected });
  return c.json({ part: n, bytes: expected, etag: uploaded.etag });
}

export async function uploadStatus(c: Context<AppEnv>): Promise<Response> {
  const state = await ownedUpload(c);
  const parts = state.completed ? [] : await listParts(c.env.VIDEOS, state.id);
  return c.json({
    ...created(state),
    status: state.completed ? "completed" : "uploading",
    done: state.completed ? Array.from({ length: state.parts }, (_, i) => i + 1) : parts.map((p) => p.part),
    bytesDone: state.completed ? state.bytes : parts.reduce((sum, p) => sum + p.bytes, 0),
    ...(state.completed ? { result: state.completed } : {}),
  });
}

export async function completeUpload(c: Context<AppEnv>): Promise<Response> {
  const state = await ownedUpload(c);
  // A client whose connection dropped during completion asks again: same answer.
  if (state.completed) return c.json(state.completed);
  const bucket = c.env.VIDEOS;
  const parts = await listParts(bucket, state.id);
  const done = new Set(parts.map((p) => p.part));
  const missing = Array.from({ length: state.parts }, (_, i) => i + 1).filter((n) => !done.has(n));
  if (missing.length) {
    const list = missing.length > 10 ? `${missing.slice(0, 10).join(", ")} and ${missing.length - 10} more` : missing.join(", ");
    throw userError(409, "upload_incomplete", `upload ${state.id} is missing part${missing.length > 1 ? "s" : ""} ${list}`, `all ${state.parts} parts (GET /v1/uploads/${state.id} lists those done)`);
  }
  await inR2(c, state, (upload) => upload.complete(parts.map((p) => ({ partNumber: p.part, etag: p.etag }))));
  const staged = stagingKey(state.id);
  let placed: R2Object;
  let video: StoredVideo["video"];
  try {
    video = await describeVideo(await r2Source(bucket, staged));
    // R2 has no rename: the checked bytes are copied to the name in one put (streamed, never whole in memory).
    const object = await bucket.get(staged);
    if (!object) throw new Error(`the assembled upload ${staged} vanished before it was placed`);
    placed = await placeVideo(bucket, object.body, { key: state.key, owner: state.owner, overwrite: state.overwrite });
  } catch (error) {
    // Not a usable video, or its name was taken meanwhile: the upload is not kept, the name keeps what it had.
    await bucket.delete(staged);
    await deleteUpload(bucket, state.id);
    throw error;
  }
  const stored: StoredVideo = { key: state.key, bytes: placed.size, etag: placed.etag, video };
  await writeState(bucket, { ...state, completed: stored });
  await bucket.delete(staged);
  await deleteParts(bucket, state.id, parts);
  return c.json(stored);
}

export async function abortUpload(c: Context<AppEnv>): Promise<Response> {
  const state = await ownedUpload(c);
  notCompleted(state);
  await c.env.VIDEOS.resumeMultipartUpload(stagingKey(state.id), state.r2UploadId).abort();
  await deleteUpload(c.env.VIDEOS, state.id);
  return c.json({ uploadId: state.id, aborted: true as const });
}

/** PUT /v1/videos/:name: a small video in one request, indexed before it is stored (a bad one never lands). */
export async function putVideo(c: Context<AppEnv>): Promise<Response> {
  const name = parseName(c.req.param("name") ?? "");
  const query = PutVideoQuerySchema.safeParse(c.req.query());
  if (!query.success) throw userError(400, "invalid_option", describeIssues(query.error.issues, "(query)"), ACCEPTED_PUT);
  const placement: Placement = { key: videoKey(ownerOf(c), name), owner: ownerOf(c), overwrite: query.data.overwrite };
  // A taken name is refused before the body is read.
  await checkFree(c.env.VIDEOS, placement);
  const type = (c.req.header("content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (type !== "video/mp4") throw userError(415, "unsupported_media_type", `the body is ${type ? `"${type}"` : "of no declared type"}`, ACCEPTED_PUT);
  const bytes = new Uint8Array(await c.req.arrayBuffer());
  if (bytes.length === 0) throw userError(400, "empty_video", "the video/mp4 body is empty (0 bytes)", ACCEPTED_PUT);
  const video = await describeVideo(bytesSource(bytes, "the video/mp4 body"));
  const object = await placeVideo(c.env.VIDEOS, bytes, placement);
  return c.json({ key: placement.key, bytes: object.size, etag: object.etag, video } satisfies StoredVideo, 201);
}
