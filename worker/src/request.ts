// POST /v1/classify input: multipart/form-data with `frames` file fields, options
// in the query or as form fields. Everything a client can get wrong is checked
// here, from headers alone where possible, before any model or decoder runs.
import type { Context } from "hono";
import { ClassifyOptionsSchema, type ClassifyOptions } from "./api-schemas.ts";
import { userError } from "./errors.ts";
import { ACCEPTED_FRAMES, inspectFrame, type FrameHeader } from "./frames.ts";
import { LIMITS } from "./limits.ts";
import type { AppEnv } from "./middleware.ts";

export const ACCEPTED_BODY = `multipart/form-data with 1 to ${LIMITS.frames} "frames" file fields (JPEG or PNG, in temporal order); MP4 video uploads come later`;
const ACCEPTED_OPTIONS =
  'query or form fields: model (a model id; "default", the default, is the bundled model), version (a version or "latest", the default), topk (an integer from 1 to the number of labels, default 5)';

export interface UploadedFrame {
  bytes: ArrayBuffer;
  header: FrameHeader;
  /** How error messages name this frame. */
  what: string;
}

export interface ClassifyRequest {
  options: ClassifyOptions;
  frames: UploadedFrame[];
}

function isMultipart(contentType: string | undefined): boolean {
  return (contentType ?? "").split(";")[0].trim().toLowerCase() === "multipart/form-data";
}

function parseOptions(query: Record<string, string[]>, form: FormData): ClassifyOptions {
  const raw: Record<string, string[]> = {};
  for (const [key, values] of Object.entries(query)) raw[key] = [...values];
  for (const [key, value] of form) {
    if (key === "frames") continue;
    if (typeof value !== "string") {
      throw userError(400, "unknown_field", `the form has a file field "${key}"`, `frames go in "frames" file fields; ${ACCEPTED_OPTIONS}`);
    }
    (raw[key] ??= []).push(value);
  }
  const single: Record<string, string> = {};
  for (const [key, values] of Object.entries(raw)) {
    if (values.length > 1) {
      throw userError(400, "invalid_option", `${key} is given ${values.length} times`, ACCEPTED_OPTIONS);
    }
    single[key] = values[0];
  }
  const parsed = ClassifyOptionsSchema.safeParse(single);
  if (!parsed.success) {
    const unknown = parsed.error.issues.find((i) => i.code === "unrecognized_keys");
    const problems = parsed.error.issues.map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message)).join("; ");
    throw userError(400, unknown ? "unknown_option" : "invalid_option", problems, ACCEPTED_OPTIONS);
  }
  return parsed.data;
}

async function readFrames(form: FormData): Promise<UploadedFrame[]> {
  const entries = form.getAll("frames");
  if (entries.length === 0) {
    throw userError(400, "missing_frames", 'the form has no "frames" field', ACCEPTED_BODY);
  }
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

export async function parseClassifyRequest(c: Context<AppEnv>): Promise<ClassifyRequest> {
  if (c.req.raw.body === null || c.req.header("content-length") === "0") {
    throw userError(400, "empty_body", "the request has no body", ACCEPTED_BODY);
  }
  const contentType = c.req.header("content-type");
  if (!isMultipart(contentType)) {
    throw userError(415, "unsupported_media_type", `the body is ${contentType ? `"${contentType}"` : "of no declared type"}`, ACCEPTED_BODY);
  }
  let form: FormData;
  try {
    form = await c.req.raw.formData();
  } catch (e) {
    throw userError(400, "malformed_multipart", `the multipart body could not be parsed (${(e as Error).message})`, ACCEPTED_BODY);
  }
  const options = parseOptions(c.req.queries(), form);
  return { options, frames: await readFrames(form) };
}
