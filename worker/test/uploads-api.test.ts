// Video uploads through the Worker into the real miniflare R2 bucket: a
// multipart upload resumed after a "dropped connection" (some parts sent, the
// status asked, the rest sent), parts of the wrong size, a file that is not a
// usable video (deleted, 422), uploads of another API key (403), aborts, and
// the one-request PUT for small videos.
import { SELF, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { PartStoredSchema, StoredVideoSchema, UploadCreatedSchema, UploadStatusSchema } from "../src/uploads/schemas.ts";
import { MIN_PART_BYTES } from "../src/uploads/parts.ts";
import { videoBytes, videos } from "./fixtures/videos.ts";
import { BASE, expectError } from "./helpers.ts";
import { bearer, deployed, issueKey } from "./keys.ts";

const PART = MIN_PART_BYTES;

/**
 * A valid MP4 over two parts long: a faststart fixture (moov first) followed by
 * a top-level "free" box of padding, which MP4 readers skip.
 */
function paddedMp4(total: number): Uint8Array {
  const mp4 = videoBytes("high_faststart");
  const out = new Uint8Array(total);
  out.set(mp4);
  const pad = total - mp4.length;
  new DataView(out.buffer).setUint32(mp4.length, pad);
  out.set([0x66, 0x72, 0x65, 0x65], mp4.length + 4); // "free"
  for (let i = mp4.length + 8; i < total; i++) out[i] = i % 251; // not all zeros: a misplaced part would show
  return out;
}

type Send = (path: string, init?: RequestInit) => Promise<Response>;
const local: Send = (path, init) => SELF.fetch(`${BASE}${path}`, init);

async function start(send: Send, filename: string, bytes: number, partSize = PART) {
  const res = await send("/v1/uploads", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ filename, bytes, contentType: "video/mp4", partSize }) });
  expect(res.status, await res.clone().text()).toBe(201);
  return UploadCreatedSchema.parse(await res.json());
}

function part(send: Send, uploadId: string, n: number, bytes: Uint8Array): Promise<Response> {
  // Set by hand as an HTTP client does: a Request made inside the isolate (deployed()) has none.
  return send(`/v1/uploads/${uploadId}/parts/${n}`, { method: "PUT", body: bytes as Uint8Array<ArrayBuffer>, headers: { "content-length": String(bytes.length) } });
}

async function sendPart(send: Send, uploadId: string, n: number, file: Uint8Array, partSize = PART) {
  const res = await part(send, uploadId, n, file.subarray((n - 1) * partSize, n * partSize));
  expect(res.status, await res.clone().text()).toBe(200);
  return PartStoredSchema.parse(await res.json());
}

async function status(send: Send, uploadId: string) {
  const res = await send(`/v1/uploads/${uploadId}`);
  expect(res.status, await res.clone().text()).toBe(200);
  return UploadStatusSchema.parse(await res.json());
}

const complete = (send: Send, uploadId: string) => send(`/v1/uploads/${uploadId}/complete`, { method: "POST" });

/** SHA-256 of some bytes: compared instead of the bytes (a diff of megabytes would exhaust the test's heap). */
async function sha256(bytes: Uint8Array | ArrayBuffer): Promise<string> {
  return [...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The stored object's size and digest, or null. */
async function stored(key: string): Promise<{ bytes: number; sha256: string } | null> {
  const object = await env.VIDEOS.get(key);
  if (!object) return null;
  const body = await object.arrayBuffer();
  return { bytes: body.byteLength, sha256: await sha256(body) };
}

const same = async (bytes: Uint8Array) => ({ bytes: bytes.length, sha256: await sha256(bytes) });

describe("multipart upload", () => {
  it("resumes after a dropped connection: some parts, status, the rest, complete", async () => {
    const file = paddedMp4(2 * PART + 12345);
    const upload = await start(local, "resumed.mp4", file.length);
    expect(upload).toMatchObject({ key: "videos/anonymous/resumed.mp4", bytes: file.length, partSize: PART, parts: 3 });

    // The first session sends parts 3 and 1, then its connection drops.
    expect(await sendPart(local, upload.uploadId, 3, file)).toMatchObject({ part: 3, bytes: 12345 });
    await sendPart(local, upload.uploadId, 1, file);

    // The client comes back and asks what the server has.
    const half = await status(local, upload.uploadId);
    expect(half).toMatchObject({ status: "uploading", done: [1, 3], bytesDone: PART + 12345, parts: 3 });
    const early = await complete(local, upload.uploadId);
    expect((await expectError(early, 409, "upload_incomplete")).error.message).toContain("missing part 2");

    const missing = [1, 2, 3].filter((n) => !half.done.includes(n));
    for (const n of missing) await sendPart(local, upload.uploadId, n, file);
    const res = await complete(local, upload.uploadId);
    expect(res.status, await res.clone().text()).toBe(200);
    const result = StoredVideoSchema.parse(await res.json());
    const fixture = videos.high_faststart;
    expect(result).toMatchObject({ key: upload.key, bytes: file.length, video: { width: fixture.width, height: fixture.height } });
    expect(result.video.codec).toMatch(/^avc1\.64/);
    expect(await stored(upload.key)).toEqual(await same(file));

    // Completion is idempotent for a client that lost the answer; the upload is closed to parts and aborts.
    expect(await (await complete(local, upload.uploadId)).json()).toEqual(result);
    expect(await status(local, upload.uploadId)).toMatchObject({ status: "completed", done: [1, 2, 3], bytesDone: file.length, result });
    await expectError(await part(local, upload.uploadId, 2, file.subarray(PART, 2 * PART)), 409, "upload_completed");
    await expectError(await local(`/v1/uploads/${upload.uploadId}`, { method: "DELETE" }), 409, "upload_completed");
    // The part records are gone; only the state object is kept.
    expect((await env.VIDEOS.list({ prefix: `uploads/${upload.uploadId}/` })).objects.map((o) => o.key)).toEqual([`uploads/${upload.uploadId}/state`]);
  });

  it("a part whose connection drops midway is not recorded, and can be sent again", async () => {
    const file = paddedMp4(PART + 100);
    const upload = await start(local, "dropped.mp4", file.length);
    const half = file.subarray(0, PART / 2);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(half);
        controller.error(new Error("connection reset"));
      },
    });
    const dropped = await local(`/v1/uploads/${upload.uploadId}/parts/1`, { method: "PUT", body, headers: { "content-length": String(PART) } }).catch(() => undefined);
    expect(dropped === undefined || dropped.status >= 400).toBe(true);
    expect((await status(local, upload.uploadId)).done).toEqual([]);
    await sendPart(local, upload.uploadId, 1, file);
    await sendPart(local, upload.uploadId, 2, file);
    expect((await complete(local, upload.uploadId)).status).toBe(200);
    expect(await stored(upload.key)).toEqual(await same(file));
  });

  it("a part of the wrong size is refused before anything is stored", async () => {
    const file = paddedMp4(2 * PART + 10);
    const upload = await start(local, "sizes.mp4", file.length);
    const short = await expectError(await part(local, upload.uploadId, 1, file.subarray(0, PART - 1)), 400, "wrong_part_size");
    expect(short.error.message).toContain(`part 1 of 3 must be exactly partSize, ${PART} bytes, not ${PART - 1}`);
    const long = await expectError(await part(local, upload.uploadId, 3, file.subarray(2 * PART - 1)), 400, "wrong_part_size");
    expect(long.error.message).toContain("the last part (3) must be 10 bytes, not 11");
    await expectError(await part(local, upload.uploadId, 4, file.subarray(0, 10)), 400, "invalid_part");
    await expectError(await part(local, upload.uploadId, 0, file.subarray(0, 10)), 400, "invalid_part");
    expect(await status(local, upload.uploadId)).toMatchObject({ done: [], bytesDone: 0 });
  });

  it("a bad file is refused at completion (422) and deleted with its upload", async () => {
    for (const [name, bytes, code] of [
      ["hevc.mp4", videoBytes("hevc"), "unsupported_codec"],
      ["noise.mp4", crypto.getRandomValues(new Uint8Array(4000)), "not_mp4"],
    ] as const) {
      const upload = await start(local, name, bytes.length);
      expect(upload.parts).toBe(1);
      await sendPart(local, upload.uploadId, 1, bytes);
      const res = await complete(local, upload.uploadId);
      expect(res.status).toBe(422);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.message).toContain("the upload was not kept");
      if (code === "unsupported_codec") expect(body.error.code).toBe(code);
      expect(await env.VIDEOS.head(upload.key)).toBeNull();
      await expectError(await local(`/v1/uploads/${upload.uploadId}`), 404, "upload_not_found");
      expect((await env.VIDEOS.list({ prefix: `uploads/${upload.uploadId}/` })).objects).toEqual([]);
    }
  });

  it("abort drops the upload and R2's multipart upload", async () => {
    const file = paddedMp4(PART + 5);
    const upload = await start(local, "aborted.mp4", file.length);
    await sendPart(local, upload.uploadId, 1, file);
    const state = JSON.parse(await (await env.VIDEOS.get(`uploads/${upload.uploadId}/state`))!.text()) as { r2UploadId: string };
    const res = await local(`/v1/uploads/${upload.uploadId}`, { method: "DELETE" });
    expect(await res.json()).toEqual({ uploadId: upload.uploadId, aborted: true });
    await expectError(await local(`/v1/uploads/${upload.uploadId}`), 404, "upload_not_found");
    await expect(env.VIDEOS.resumeMultipartUpload(`uploads/${upload.uploadId}/video`, state.r2UploadId).uploadPart(2, new Uint8Array(5))).rejects.toThrow();
    expect(await env.VIDEOS.head(upload.key)).toBeNull();
  });

  it("an upload R2 has dropped (expired) is a 404 that says so, and is forgotten", async () => {
    const file = paddedMp4(PART + 5);
    const upload = await start(local, "expired.mp4", file.length);
    await sendPart(local, upload.uploadId, 1, file);
    const state = JSON.parse(await (await env.VIDEOS.get(`uploads/${upload.uploadId}/state`))!.text()) as { r2UploadId: string };
    await env.VIDEOS.resumeMultipartUpload(`uploads/${upload.uploadId}/video`, state.r2UploadId).abort(); // as R2's lifecycle rule would
    const res = await part(local, upload.uploadId, 2, file.subarray(PART));
    expect((await expectError(res, 404, "upload_expired")).error.message).toContain("no longer exists in R2");
    await expectError(await local(`/v1/uploads/${upload.uploadId}`), 404, "upload_not_found");
    expect((await env.VIDEOS.list({ prefix: `uploads/${upload.uploadId}/` })).objects).toEqual([]);
  });

  it.each([
    [{ filename: "../x.mp4", bytes: 10 }, "filename"],
    [{ filename: "a b.mp4", bytes: 10 }, "filename"],
    [{ filename: "x.mp4", bytes: 0 }, "bytes"],
    [{ filename: "x.mp4", bytes: 10, contentType: "video/webm" }, "contentType"],
    [{ filename: "x.mp4", bytes: 10, partSize: 1024 * 1024 }, "partSize"],
    [{ filename: "x.mp4", bytes: 10, owner: "someone" }, "Unrecognized"],
  ])("POST /v1/uploads %j is a 400 naming %s", async (body, what) => {
    const res = await local("/v1/uploads", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    expect((await expectError(res, 400, "invalid_upload")).error.message).toContain(what);
  });

  it("a body that is not JSON, and ids that are not upload ids, are 400s; unknown ids 404", async () => {
    await expectError(await local("/v1/uploads", { method: "POST", headers: { "content-type": "application/json" }, body: "{" }), 400, "malformed_json");
    await expectError(await local("/v1/uploads/nope"), 400, "invalid_upload_id");
    await expectError(await local(`/v1/uploads/up_${"0".repeat(32)}`), 404, "upload_not_found");
    const wrong = await local("/v1/uploads/nope/complete", { method: "GET" });
    expect({ status: wrong.status, allow: wrong.headers.get("allow") }).toEqual({ status: 405, allow: "POST" });
  });
});

describe("uploads belong to their API key", () => {
  it("another key gets 403 on every route; the owner's key works; videos go under the key id", async () => {
    const [alice, mallory] = await Promise.all([issueKey("uploads-alice"), issueKey("uploads-mallory")]);
    const as = (key: string): Send => (path, init = {}) => deployed(path, { ...init, headers: { ...bearer(key), ...(init.headers as Record<string, string>) } });
    const bytes = videoBytes("baseline");
    const upload = await start(as(alice.key), "mine.mp4", bytes.length);
    expect(upload.key).toBe(`videos/${alice.record.id}/mine.mp4`);

    const other = as(mallory.key);
    await expectError(await other(`/v1/uploads/${upload.uploadId}`), 403, "upload_forbidden");
    await expectError(await part(other, upload.uploadId, 1, bytes), 403, "upload_forbidden");
    await expectError(await complete(other, upload.uploadId), 403, "upload_forbidden");
    await expectError(await other(`/v1/uploads/${upload.uploadId}`, { method: "DELETE" }), 403, "upload_forbidden");
    // Without keys (local dev) the anonymous owner is not the key's owner either.
    await expectError(await local(`/v1/uploads/${upload.uploadId}`), 403, "upload_forbidden");
    await expectError(await deployed(`/v1/uploads/${upload.uploadId}`), 401, "missing_api_key");

    await sendPart(as(alice.key), upload.uploadId, 1, bytes);
    expect((await complete(as(alice.key), upload.uploadId)).status).toBe(200);
    expect(await stored(upload.key)).toEqual(await same(bytes));
  });
});

describe("PUT /v1/videos/:name", () => {
  const put = (name: string, body: BodyInit, type = "video/mp4") => local(`/v1/videos/${name}`, { method: "PUT", body, headers: { "content-type": type } });

  it("stores a small video in one request and answers like a completed upload", async () => {
    const bytes = videoBytes("high_moov_end");
    const res = await put("small.mp4", bytes as Uint8Array<ArrayBuffer>);
    expect(res.status, await res.clone().text()).toBe(201);
    const result = StoredVideoSchema.parse(await res.json());
    expect(result).toMatchObject({ key: "videos/anonymous/small.mp4", bytes: bytes.length, video: { width: 320, height: 240 } });
    expect(result.video.durationSeconds).toBeCloseTo(videos.high_moov_end.durationSeconds, 1);
    expect(await stored(result.key)).toEqual(await same(bytes));
  });

  it("refuses a bad video without storing it, and says why", async () => {
    const res = await put("bad.mp4", videoBytes("high10") as Uint8Array<ArrayBuffer>);
    const body = await expectError(res, 422, "unsupported_bit_depth");
    expect(body.error.message).toContain("10-bit");
    expect(await env.VIDEOS.head("videos/anonymous/bad.mp4")).toBeNull();
    await expectError(await put("x.mp4", videoBytes("baseline").slice(0, 3000) as Uint8Array<ArrayBuffer>), 422, "truncated_video");
  });

  it("bad names, types, empty and too large bodies are 4xx", async () => {
    await expectError(await put(".hidden.mp4", new Uint8Array(10)), 400, "invalid_name");
    await expectError(await put("x.mp4", new Uint8Array(10), "text/plain"), 415, "unsupported_media_type");
    await expectError(await put("x.mp4", new Uint8Array(0)), 400, "empty_video");
    // The test config sets MAX_BODY_BYTES to 2 MiB.
    await expectError(await put("x.mp4", new Uint8Array(2 * 1024 * 1024 + 1)), 413, "body_too_large");
  });
});
