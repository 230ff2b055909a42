// A stored video is never replaced by a bad one, nor left empty: a bad PUT or
// a bad multipart upload of the same name (even with overwrite=true) is
// refused while the good video stays byte for byte, and a job running on it
// completes; a taken name is a 409 unless the client asks to overwrite; two
// uploads racing for a new name cannot both land.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { MIN_PART_BYTES } from "../src/uploads/parts.ts";
import { StoredVideoSchema, UploadCreatedSchema } from "../src/uploads/schemas.ts";
import { videoBytes } from "./fixtures/videos.ts";
import { expectError } from "./helpers.ts";
import { call, createJob, deliver, getJob } from "./jobs-helpers.ts";

const put = (name: string, bytes: Uint8Array, query = "") =>
  call(`/v1/videos/${name}${query}`, { method: "PUT", body: bytes as Uint8Array<ArrayBuffer>, headers: { "content-type": "video/mp4" } });

async function multipart(name: string, bytes: Uint8Array, overwrite?: boolean): Promise<Response> {
  const created = await call("/v1/uploads", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ filename: name, bytes: bytes.length, partSize: MIN_PART_BYTES, ...(overwrite === undefined ? {} : { overwrite }) }),
  });
  if (created.status !== 201) return created;
  const upload = UploadCreatedSchema.parse(await created.json());
  for (let n = 1; n <= upload.parts; n++) {
    const part = bytes.subarray((n - 1) * MIN_PART_BYTES, n * MIN_PART_BYTES);
    const res = await call(`/v1/uploads/${upload.uploadId}/parts/${n}`, { method: "PUT", body: part as Uint8Array<ArrayBuffer>, headers: { "content-length": String(part.length) } });
    expect(res.status, await res.clone().text()).toBe(200);
  }
  return call(`/v1/uploads/${upload.uploadId}/complete`, { method: "POST" });
}

async function sha256(bytes: ArrayBuffer | Uint8Array): Promise<string> {
  return [...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function storedSha(key: string): Promise<string | null> {
  const object = await env.VIDEOS.get(key);
  return object ? sha256(await object.arrayBuffer()) : null;
}

/** Only the videos themselves: no staging objects, part records or states left behind by refused uploads. */
async function leftovers(): Promise<string[]> {
  const listed = await env.VIDEOS.list({ prefix: "uploads/" });
  return listed.objects.map((o) => o.key).filter((k) => !k.endsWith("/state"));
}

describe("a good video survives bad uploads of its name", () => {
  it("bad PUTs and a bad multipart upload, with and without overwrite; a job on it completes", async () => {
    const good = videoBytes("high_moov_end");
    const key = "videos/anonymous/keep.mp4";
    expect((await put("keep.mp4", good)).status).toBe(201);
    const goodSha = await sha256(good);

    const job = await createJob({ video: key, clipsPerVideo: 4, topk: 2 });

    // Without overwrite a taken name is refused before any bytes are looked at.
    const taken = await expectError(await put("keep.mp4", videoBytes("hevc")), 409, "video_exists");
    expect(taken.error.message).toContain(key);
    expect(taken.error.accepted).toContain("overwrite=true");
    await expectError(await multipart("keep.mp4", videoBytes("hevc")), 409, "video_exists");
    // With overwrite, a bad file is still refused, and the name keeps the good one.
    await expectError(await put("keep.mp4", videoBytes("hevc"), "?overwrite=true"), 422, "unsupported_codec");
    await expectError(await put("keep.mp4", videoBytes("baseline").slice(0, 3000), "?overwrite=true"), 422, "truncated_video");
    const bad = await multipart("keep.mp4", videoBytes("high10"), true);
    expect(bad.status).toBe(422);
    expect(await storedSha(key)).toBe(goodSha);
    expect(await leftovers()).toEqual([]);

    // The job planned on the good video reads the same object (its etag) and finishes.
    await deliver(job.batches, 1);
    const done = await getJob(job.id);
    expect(done.status).toBe("completed");
    expect(done.failures).toEqual([]);
    expect(done.clips).toHaveLength(4);
  });

  it("overwrite=true replaces with a good video; a bad query value is a 400", async () => {
    expect((await put("swap.mp4", videoBytes("high_moov_end"))).status).toBe(201);
    const replaced = await put("swap.mp4", videoBytes("baseline"), "?overwrite=true");
    expect(replaced.status, await replaced.clone().text()).toBe(201);
    expect(StoredVideoSchema.parse(await replaced.json()).video.width).toBe(320);
    expect(await storedSha("videos/anonymous/swap.mp4")).toBe(await sha256(videoBytes("baseline")));
    const viaParts = await multipart("swap.mp4", videoBytes("high_faststart"), true);
    expect(viaParts.status, await viaParts.clone().text()).toBe(200);
    const stored = StoredVideoSchema.parse(await viaParts.json());
    expect(stored.etag).toBe((await env.VIDEOS.head("videos/anonymous/swap.mp4"))!.etag);
    expect(await storedSha("videos/anonymous/swap.mp4")).toBe(await sha256(videoBytes("high_faststart")));
    await expectError(await put("swap.mp4", videoBytes("baseline"), "?overwrite=yes"), 400, "invalid_option");
  });

  it("a multipart upload is assembled away from its name, which is empty until the checked video lands", async () => {
    const bytes = videoBytes("high_faststart");
    const created = await call("/v1/uploads", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ filename: "fresh.mp4", bytes: bytes.length }) });
    const upload = UploadCreatedSchema.parse(await created.json());
    const res = await call(`/v1/uploads/${upload.uploadId}/parts/1`, { method: "PUT", body: bytes as Uint8Array<ArrayBuffer>, headers: { "content-length": String(bytes.length) } });
    expect(res.status).toBe(200);
    expect(await env.VIDEOS.head(upload.key)).toBeNull();

    // Meanwhile another request takes the name: completion refuses to replace it and keeps nothing of the upload.
    expect((await put("fresh.mp4", videoBytes("baseline"))).status).toBe(201);
    const late = await expectError(await call(`/v1/uploads/${upload.uploadId}/complete`, { method: "POST" }), 409, "video_exists");
    expect(late.error.message).toContain(upload.key);
    expect(await storedSha(upload.key)).toBe(await sha256(videoBytes("baseline")));
    await expectError(await call(`/v1/uploads/${upload.uploadId}`), 404, "upload_not_found");
    expect((await env.VIDEOS.list({ prefix: `uploads/${upload.uploadId}/` })).objects).toEqual([]);
  });

  it("objects under uploads/ (staging, states) are found by no one", async () => {
    await env.VIDEOS.put("uploads/up_x/video", videoBytes("baseline"));
    const res = await call("/v1/classify?r2Key=uploads/up_x/video", { method: "POST" });
    await expectError(res, 404, "r2_key_not_found");
  });
});
