// POST /v1/classify input. Exactly one of:
//   - an MP4 body (Content-Type: video/mp4),
//   - multipart/form-data with a "video" file (MP4) or "frames" files (JPEG/PNG),
//   - r2Key (an object in the VIDEOS bucket) or url (read with Range requests),
//     as a query parameter, a form field or a JSON body field,
// with options (model, version, topk, clips, frames) in the query, form fields
// or JSON. Everything a client can get wrong is checked here, from headers
// alone where possible, before any model or decoder runs.
import type { Context } from "hono";
import { ClassifyOptionsSchema, type ClassifyOptions } from "./api-schemas.ts";
import { checkVideoAccess, ownerOf } from "./auth.ts";
import { userError } from "./errors.ts";
import { ACCEPTED_FRAMES, inspectFrame, type FrameHeader } from "./frames.ts";
import { LIMITS } from "./limits.ts";
import type { AppEnv } from "./middleware.ts";

export const ACCEPTED_BODY =
  "one input: an MP4 body (Content-Type: video/mp4); multipart/form-data with a \"video\" file (MP4) " +
  `or 1 to ${LIMITS.frames} "frames" files (JPEG or PNG, in temporal order); ` +
  'or "r2Key" (an object in the VIDEOS bucket) or "url" (http or https, read with Range requests) ' +
  "as a query parameter, form field or field of a JSON body (application/json or application/x-www-form-urlencoded)";
const ACCEPTED_OPTIONS =
  'query, form or JSON fields: model (a model id; "default", the default, is the bundled model), version (a version or "latest", the default), ' +
  `topk (an integer from 1 to the number of labels, default 5); for videos also clips (clips per video, 1 to ${LIMITS.clips}, ` +
  `default the model's plan) and frames (keyframes per clip, 1 to ${LIMITS.frames}, default the model's); ` +
  "explain (1 or true: per-frame heatmaps; label names the class to explain) and thumbnails (1 or true: the decoded frames as PNGs)";

export interface UploadedFrame {
  bytes: ArrayBuffer;
  header: FrameHeader;
  /** How error messages name this frame. */
  what: string;
}

/** Where the video's bytes are: read by the MP4 path through a ByteSource. */
export type VideoInput =
  | { kind: "bytes"; bytes: Uint8Array; what: string }
  | { kind: "r2"; key: string }
  | { kind: "url"; url: string };

export type ClassifyRequest =
  | { kind: "frames"; options: ClassifyOptions; frames: UploadedFrame[] }
  | { kind: "video"; options: ClassifyOptions; video: VideoInput };

/** The media type without parameters, lowercased; "" when absent. */
function mediaType(contentType: string | undefined): string {
  return (contentType ?? "").split(";")[0].trim().toLowerCase();
}

/** Fields from the query and the body, each allowed once, validated together. */
function parseOptions(fields: [string, string][]): ClassifyOptions {
  const single: Record<string, string> = {};
  for (const [key, value] of fields) {
    if (key in single) throw userError(400, "invalid_option", `${key} is given more than once`, ACCEPTED_OPTIONS);
    single[key] = value;
  }
  const parsed = ClassifyOptionsSchema.safeParse(single);
  if (!parsed.success) {
    const unknown = parsed.error.issues.find((i) => i.code === "unrecognized_keys");
    const problems = parsed.error.issues.map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message)).join("; ");
    throw userError(400, unknown ? "unknown_option" : "invalid_option", problems, ACCEPTED_OPTIONS);
  }
  return parsed.data;
}

function queryFields(c: Context<AppEnv>): [string, string][] {
  return Object.entries(c.req.queries()).flatMap(([key, values]) => values.map((v): [string, string] => [key, v]));
}

/** Text fields of a form; files other than "frames" and "video" are refused. */
function formFields(form: FormData): [string, string][] {
  const fields: [string, string][] = [];
  for (const [key, value] of form) {
    if (key === "frames" || key === "video") continue;
    if (typeof value !== "string") {
      throw userError(400, "unknown_field", `the form has a file field "${key}"`, ACCEPTED_BODY);
    }
    fields.push([key, value]);
  }
  return fields;
}

/** A JSON object's fields; numbers become their decimal text like query values. */
function jsonFields(text: string): [string, string][] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw userError(400, "malformed_json", `the JSON body could not be parsed (${(e as Error).message})`, ACCEPTED_BODY);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw userError(400, "malformed_json", "the JSON body is not an object", ACCEPTED_BODY);
  }
  return Object.entries(value).map(([key, v]): [string, string] => {
    if (typeof v === "string") return [key, v];
    if ((typeof v === "number" && Number.isFinite(v)) || typeof v === "boolean") return [key, String(v)];
    throw userError(400, "invalid_option", `${key} must be a string, a number or a boolean`, ACCEPTED_OPTIONS);
  });
}

async function readFrames(entries: FormDataEntryValue[]): Promise<UploadedFrame[]> {
  if (entries.length > LIMITS.frames) {
    throw userError(400, "too_many_frames", `${entries.length} frames were sent`, ACCEPTED_BODY);
  }
  const frames: UploadedFrame[] = [];
  for (const [i, entry] of entries.entries()) {
    if (typeof entry === "string") {
      throw userError(400, "frame_not_a_file", `frames[${i}] is a text field, not a file`, ACCEPTED_BODY);
    }
    const what = `frames[${i}] (${JSON.stringify(entry.name)})`;
    const bytes = await entry.arrayBuffer();
    const header = inspectFrame(new Uint8Array(bytes), what);
    const first = frames[0]?.header ?? header;
    if (header.width !== first.width || header.height !== first.height) {
      throw userError(
        400,
        "frame_size_mismatch",
        `${what} is ${header.width}×${header.height} but frames[0] is ${first.width}×${first.height}`,
        ACCEPTED_FRAMES,
      );
    }
    frames.push({ bytes, header, what });
  }
  return frames;
}

function emptyVideo(what: string): never {
  throw userError(400, "empty_video", `${what} is empty (0 bytes)`, ACCEPTED_BODY);
}

/** The one input among those present, or a 400 saying what was sent and what is accepted. */
function onlyInput(present: string[]): void {
  if (present.length === 0) throw userError(400, "missing_input", "the request names no video, frames, r2Key or url", ACCEPTED_BODY);
  if (present.length > 1) throw userError(400, "ambiguous_input", `the request has ${present.join(" and ")}: send exactly one`, ACCEPTED_BODY);
}

export async function parseClassifyRequest(c: Context<AppEnv>): Promise<ClassifyRequest> {
  const type = mediaType(c.req.header("content-type"));
  const hasBody = c.req.raw.body !== null && c.req.header("content-length") !== "0";
  const fields = queryFields(c);
  let frames: FormDataEntryValue[] = [];
  let videos: FormDataEntryValue[] = [];
  let body: Uint8Array | undefined;

  if (!hasBody) {
    // Only r2Key or url in the query can make sense of an empty POST.
    if (type === "video/mp4") emptyVideo("the video/mp4 body");
  } else if (type === "video/mp4") {
    body = new Uint8Array(await c.req.raw.arrayBuffer());
    if (body.length === 0) emptyVideo("the video/mp4 body");
  } else if (type === "multipart/form-data" || type === "application/x-www-form-urlencoded") {
    let form: FormData;
    try {
      form = await c.req.raw.formData();
    } catch (e) {
      const code = type === "multipart/form-data" ? "malformed_multipart" : "malformed_form";
      throw userError(400, code, `the ${type} body could not be parsed (${(e as Error).message})`, ACCEPTED_BODY);
    }
    frames = form.getAll("frames");
    videos = form.getAll("video");
    fields.push(...formFields(form));
  } else if (type === "application/json") {
    fields.push(...jsonFields(await c.req.raw.text()));
  } else {
    throw userError(415, "unsupported_media_type", `the body is ${type ? `"${type}"` : "of no declared type"}`, ACCEPTED_BODY);
  }

  const options = parseOptions(fields);
  const present = [
    body && "a video/mp4 body",
    videos.length && `${videos.length} "video" field${videos.length > 1 ? "s" : ""}`,
    frames.length && `"frames" files`,
    options.r2Key !== undefined && "r2Key",
    options.url !== undefined && "url",
  ].filter((p): p is string => typeof p === "string");
  if (!hasBody && present.length === 0) throw userError(400, "empty_body", "the request has no body and names no r2Key or url", ACCEPTED_BODY);
  onlyInput(present);

  if (frames.length) {
    if (options.clips !== undefined || options.frames !== undefined) {
      throw userError(400, "invalid_option", "clips and frames apply to video input, not to uploaded frames", ACCEPTED_OPTIONS);
    }
    return { kind: "frames", options, frames: await readFrames(frames) };
  }
  if (body) return { kind: "video", options, video: { kind: "bytes", bytes: body, what: "the video/mp4 body" } };
  if (videos.length) {
    if (videos.length > 1) throw userError(400, "ambiguous_input", `the form has ${videos.length} "video" fields: send one`, ACCEPTED_BODY);
    const [file] = videos;
    if (typeof file === "string") throw userError(400, "video_not_a_file", 'the "video" field is text, not a file', ACCEPTED_BODY);
    const what = `the "video" file (${JSON.stringify(file.name)})`;
    const bytes = new Uint8Array(await file.arrayBuffer());
    if (bytes.length === 0) emptyVideo(what);
    return { kind: "video", options, video: { kind: "bytes", bytes, what } };
  }
  if (options.r2Key !== undefined) {
    checkVideoAccess(ownerOf(c), options.r2Key);
    return { kind: "video", options, video: { kind: "r2", key: options.r2Key } };
  }
  return { kind: "video", options, video: { kind: "url", url: options.url! } };
}
