// POST /v1/classify with a video, inside workerd on real ffmpeg-made MP4s
// (fixtures/videos.global.ts): every way of sending one, the answer's shape
// and its arithmetic, the options, and what each bad video gets.
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it, inject } from "vitest";
import bundledManifest from "../../models/default/manifest.json";
import { ClassifyVideoResponseSchema } from "../src/api-schemas.ts";
import { classify, expectError, form } from "./helpers.ts";

const videos = inject("videos");
const bytes = (name: string) => Uint8Array.from(atob(videos[name].base64), (c) => c.charCodeAt(0));
const mp4 = { "content-type": "video/mp4" };
const LABELS = bundledManifest.labels.length;
const CLIPS = (bundledManifest.sampling.clipSampler as { clipsPerVideo: number }).clipsPerVideo;

interface Prediction {
  label: string;
  index: number;
  score: number;
}
interface VideoAnswer {
  requestId: string;
  model: { id: string; version: string; sha256: string };
  top: Prediction[];
  clips: { start: number; end: number; keyframeTimes: number[]; top: Prediction[] }[];
  frames: { perClip: number; decoded: number };
  video: { codec: string; width: number; height: number; durationSeconds: number; bytes: number };
  bytesRead: number;
  timing: Record<"indexMs" | "readMs" | "decodeMs" | "preprocessMs" | "inferenceMs" | "totalMs", number>;
}

/** A 200 whose body is what the OpenAPI document says (api-schemas.ts). */
async function answer(res: Response): Promise<VideoAnswer> {
  expect(res.status, await res.clone().text()).toBe(200);
  const body = await res.json();
  ClassifyVideoResponseSchema.parse(body);
  return body as VideoAnswer;
}

/** Scores by label index. */
const byIndex = (top: Prediction[]) => Object.fromEntries(top.map((p) => [p.index, p.score]));

beforeAll(async () => {
  await env.VIDEOS.put("clips/high.mp4", bytes("high_moov_end"));
  await env.VIDEOS.put("clips/long.mp4", bytes("long_720p"));
  await env.VIDEOS.put("clips/hevc.mp4", bytes("hevc"));
});

describe("a video → top-k, per-clip scores, keyframe times, timing", () => {
  let body: VideoAnswer;
  beforeAll(async () => {
    body = await answer(await classify(bytes("high_moov_end"), `?topk=${LABELS}`, mp4));
  });

  it("answers with the bundled model, the model's clips and frames, and a timing breakdown", () => {
    const v = videos.high_moov_end;
    expect(body.model).toEqual({ id: bundledManifest.id, version: bundledManifest.version, sha256: bundledManifest.model.sha256 });
    expect(body.video).toMatchObject({ codec: expect.stringMatching(/^avc1\.64/), width: v.width, height: v.height, bytes: bytes("high_moov_end").length });
    expect(body.video.durationSeconds).toBeCloseTo(v.durationSeconds, 1);
    expect(body.clips).toHaveLength(CLIPS);
    expect(body.frames.perClip).toBe(bundledManifest.input.frames);
    for (const key of ["indexMs", "readMs", "decodeMs", "preprocessMs", "inferenceMs", "totalMs"] as const) expect(body.timing[key]).toBeGreaterThanOrEqual(0);
    expect(body.timing.totalMs).toBeGreaterThanOrEqual(body.timing.decodeMs + body.timing.inferenceMs - 0.05);
    expect(body.requestId.length).toBeGreaterThan(0);
  });

  it("uses only keyframes, each decoded once, inside or nearest to each clip's window", () => {
    const keyframes = new Set(videos.high_moov_end.keyframeTimes.map((t) => t.toFixed(3)));
    const used = new Set<string>();
    for (const clip of body.clips) {
      expect(clip.keyframeTimes).toHaveLength(bundledManifest.input.frames);
      expect(clip.end - clip.start).toBeCloseTo(bundledManifest.sampling.clipDuration, 9);
      expect(clip.keyframeTimes).toEqual([...clip.keyframeTimes].sort((a, b) => a - b));
      for (const t of clip.keyframeTimes) {
        expect(keyframes.has(t.toFixed(3)), `${t} is a keyframe time`).toBe(true);
        used.add(t.toFixed(3));
      }
    }
    expect(body.frames.decoded).toBe(used.size);
  });

  it("averages the clips' probabilities", () => {
    const mean = new Array<number>(LABELS).fill(0);
    for (const clip of body.clips) {
      expect(clip.top).toHaveLength(LABELS);
      expect(clip.top.reduce((s, p) => s + p.score, 0)).toBeCloseTo(1, 9);
      for (const p of clip.top) mean[p.index] += p.score / body.clips.length;
    }
    for (const p of body.top) expect(p.score).toBeCloseTo(mean[p.index], 12);
    expect(body.top.map((p) => p.score)).toEqual([...body.top.map((p) => p.score)].sort((a, b) => b - a));
  });

  it("gives the same answer for a multipart upload, an R2 key (query, form or JSON) and a faststart remux", async () => {
    const upload = new FormData();
    upload.append("video", new File([bytes("high_moov_end")], "clip.mp4", { type: "video/mp4" }));
    upload.append("topk", String(LABELS));
    const jsonBody = JSON.stringify({ r2Key: "clips/high.mp4", topk: LABELS });
    const others = [
      await classify(upload),
      await classify(null, `?r2Key=clips/high.mp4&topk=${LABELS}`),
      await classify(form([], { r2Key: "clips/high.mp4", topk: String(LABELS) })),
      await classify(jsonBody, "", { "content-type": "application/json" }),
      await classify(bytes("high_faststart"), `?topk=${LABELS}`, mp4),
    ];
    for (const res of others) {
      const other = await answer(res);
      expect(byIndex(other.top)).toEqual(byIndex(body.top));
      expect(other.clips.map((c) => c.keyframeTimes)).toEqual(body.clips.map((c) => c.keyframeTimes));
    }
  });

  it("takes clips and frames per clip from the request", async () => {
    const custom = await answer(await classify(bytes("high_moov_end"), "?clips=3&frames=4&topk=2", mp4));
    expect(custom.clips).toHaveLength(3);
    expect(custom.frames.perClip).toBe(4);
    for (const clip of custom.clips) {
      expect(clip.keyframeTimes).toHaveLength(4);
      expect(clip.top).toHaveLength(2);
    }
    expect(custom.top).toHaveLength(2);
    // Evenly spaced clips over the whole video: the first starts at 0, the last ends at the end.
    expect(custom.clips[0].start).toBe(0);
    expect(custom.clips[2].end).toBeCloseTo(custom.video.durationSeconds, 6);
  });

  it("classifies fragmented, Baseline and odd-sized files", async () => {
    for (const name of ["fragmented", "baseline", "odd_size"]) {
      const other = await answer(await classify(bytes(name), "", mp4));
      expect(other.video).toMatchObject({ width: videos[name].width, height: videos[name].height });
      expect(other.clips).toHaveLength(CLIPS);
    }
  });

  it("reads a small part of a long video in R2", async () => {
    const long = await answer(await classify(null, "?r2Key=clips/long.mp4"));
    const size = bytes("long_720p").length;
    console.log(`classify-video: long_720p (${(size / 1e6).toFixed(2)} MB, 60 s): ${long.bytesRead} bytes read (${((100 * long.bytesRead) / size).toFixed(1)}%), ${long.frames.decoded} keyframes decoded, timing ${JSON.stringify(long.timing)}`);
    expect(long.video.bytes).toBe(size);
    expect(long.bytesRead).toBeLessThan(size / 4);
  });
});

describe("bad videos and bad video requests → 4xx JSON", () => {
  const cases: { name: string; status: number; code?: string; send: () => Promise<Response> }[] = [
    { name: "HEVC", status: 415, send: () => classify(bytes("hevc"), "", mp4) },
    { name: "HEVC in R2", status: 415, send: () => classify(null, "?r2Key=clips/hevc.mp4") },
    { name: "VP9", status: 415, send: () => classify(bytes("vp9"), "", mp4) },
    { name: "AV1", status: 415, send: () => classify(bytes("av1"), "", mp4) },
    { name: "10-bit H.264", status: 415, send: () => classify(bytes("high10"), "", mp4) },
    { name: "an MP4 without video", status: 422, send: () => classify(bytes("audio_only"), "", mp4) },
    { name: "a zero-length video/mp4 body", status: 400, code: "empty_video", send: () => classify(new Uint8Array(0), "", mp4) },
    { name: "a zero-length video upload", status: 400, code: "empty_video", send: () => classify(videoForm(new Uint8Array(0))) },
    { name: "a JPEG sent as video/mp4", status: 415, send: () => classify(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16, 74, 70, 73, 70, 0]), "", mp4) },
    { name: "a truncated MP4 (moov at the end cut off)", status: 422, send: () => classify(bytes("high_moov_end").slice(0, 20_000), "", mp4) },
    { name: "an unknown R2 key", status: 404, code: "r2_key_not_found", send: () => classify(null, "?r2Key=clips/nope.mp4") },
    { name: "a loopback URL", status: 400, send: () => classify(null, `?url=${encodeURIComponent("http://127.0.0.1:8787/clip.mp4")}`) },
    { name: "a private-address URL", status: 400, send: () => classify(null, `?url=${encodeURIComponent("http://10.0.0.8/clip.mp4")}`) },
    { name: "a file: URL", status: 400, send: () => classify(null, `?url=${encodeURIComponent("file:///etc/passwd")}`) },
    { name: "a body and an R2 key", status: 400, code: "ambiguous_input", send: () => classify(bytes("baseline"), "?r2Key=clips/high.mp4", mp4) },
    { name: "two video fields", status: 400, code: "ambiguous_input", send: () => classify(videoForm(bytes("baseline"), bytes("baseline"))) },
    { name: "a video field that is text", status: 400, code: "video_not_a_file", send: () => classify(form([], { video: "clip.mp4" })) },
    { name: "clips 0", status: 400, code: "invalid_option", send: () => classify(bytes("baseline"), "?clips=0", mp4) },
    { name: "clips over the limit", status: 400, code: "invalid_option", send: () => classify(bytes("baseline"), "?clips=33", mp4) },
    { name: "frames over the limit", status: 400, code: "invalid_option", send: () => classify(bytes("baseline"), "?frames=65", mp4) },
    { name: "a JSON body that is not an object", status: 400, code: "malformed_json", send: () => classify("[1]", "", { "content-type": "application/json" }) },
    { name: "JSON that does not parse", status: 400, code: "malformed_json", send: () => classify("{r2Key:", "", { "content-type": "application/json" }) },
    { name: "a JSON option of the wrong type", status: 400, code: "invalid_option", send: () => classify(JSON.stringify({ r2Key: "a.mp4", topk: true }), "", { "content-type": "application/json" }) },
    { name: "video/quicktime", status: 415, code: "unsupported_media_type", send: () => classify(bytes("baseline"), "", { "content-type": "video/quicktime" }) },
    { name: "an MP4 over the body limit", status: 413, code: "body_too_large", send: () => classify(new Uint8Array(2 * 1024 * 1024 + 1), "", mp4) },
  ];

  function videoForm(...files: Uint8Array[]): FormData {
    const f = new FormData();
    for (const b of files) f.append("video", new File([b as Uint8Array<ArrayBuffer>], "clip.mp4", { type: "video/mp4" }));
    return f;
  }

  for (const c of cases) {
    it(c.name, async () => {
      const res = await c.send();
      const text = await res.clone().text();
      expect(res.status, text).toBe(c.status);
      const body = await expectError(res, c.status, c.code ?? JSON.parse(text).error?.code);
      console.log(`classify-video: ${c.name} → ${res.status} ${body.error.code}: ${body.error.message}`);
      // Still serving: a valid video right after.
      expect((await classify(bytes("baseline"), "?clips=1", mp4)).status).toBe(200);
    });
  }
});
