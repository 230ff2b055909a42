// ?explain=1 and ?thumbnails=1 on POST /v1/classify, inside workerd with the
// bundled model (compiled with --explain): heatmaps from its class map, the
// frames as the model sees them as real PNGs, and the errors around them.
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it, inject } from "vitest";
import bundledManifest from "../../models/default/manifest.json";
import { ClassifyFramesResponseSchema, ClassifyVideoResponseSchema } from "../src/api-schemas.ts";
import { decodeFrame, inspectFrame } from "../src/frames.ts";
import { encodePng } from "../src/png.ts";
import { classify, expectError, file, form, gradient, jpeg } from "./helpers.ts";
import tinyManifest from "./fixtures/tiny-model.manifest.json";
import tinyModel from "./fixtures/tiny-model.onnx";

const videos = inject("videos");
const bytes = (name: string) => Uint8Array.from(atob(videos[name].base64), (c) => c.charCodeAt(0));
const mp4 = { "content-type": "video/mp4" };
const { frames: T, cropSize } = bundledManifest.input;

interface Explain {
  label: string;
  index: number;
  grid: { t: number; h: number; w: number };
  clips: { start: number | null; end: number | null; frames: { time: number | null; heatmap: number[] }[] }[];
  ms: number;
}
interface Answer {
  top: { label: string; index: number; score: number }[];
  clips?: { keyframeTimes: number[] }[];
  explain?: Explain;
  keyframes?: { time: number | null; image: string }[];
  timing: Record<string, number>;
}

async function ok(res: Response, schema: { parse(v: unknown): unknown }): Promise<Answer> {
  expect(res.status, await res.clone().text()).toBe(200);
  const body = await res.json();
  schema.parse(body);
  return body as Answer;
}

async function pngPixels(dataUrl: string) {
  const png = Uint8Array.from(atob(dataUrl.slice("data:image/png;base64,".length)), (c) => c.charCodeAt(0));
  return decodeFrame(png.buffer, inspectFrame(png, "thumbnail"), "thumbnail");
}

describe("a video with explain and thumbnails", () => {
  let plain: Answer;
  let body: Answer;
  beforeAll(async () => {
    plain = await ok(await classify(bytes("high_moov_end"), "?topk=8", mp4), ClassifyVideoResponseSchema);
    body = await ok(await classify(bytes("high_moov_end"), "?topk=8&explain=1&thumbnails=true", mp4), ClassifyVideoResponseSchema);
  });

  it("answers the same scores, plus a heatmap per model frame of the best label over the model's grid", () => {
    expect(body.top).toEqual(plain.top);
    const explain = body.explain!;
    expect(explain).toMatchObject({ label: body.top[0].label, index: body.top[0].index, grid: { t: 8, h: 2, w: 2 } });
    expect(explain.clips).toHaveLength(body.clips!.length);
    explain.clips.forEach((clip, c) => {
      expect(clip.frames.map((f) => f.time)).toEqual(body.clips![c].keyframeTimes);
      expect(clip.frames).toHaveLength(T);
      const values = clip.frames.flatMap((f) => f.heatmap);
      expect(values).toHaveLength(T * 4);
      // Scaled to the clip's strongest evidence; the map is not flat.
      expect(Math.max(...values)).toBe(1);
      expect(Math.min(...values)).toBeLessThan(1);
    });
  });

  it("another label gives its own maps", async () => {
    const other = bundledManifest.labels.find((l) => l !== body.top[0].label)!;
    const again = await ok(await classify(bytes("high_moov_end"), `?explain=1&label=${other}`, mp4), ClassifyVideoResponseSchema);
    expect(again.explain).toMatchObject({ label: other, index: bundledManifest.labels.indexOf(other) });
    expect(again.explain!.clips[0].frames.map((f) => f.heatmap)).not.toEqual(body.explain!.clips[0].frames.map((f) => f.heatmap));
  });

  it("thumbnails: one PNG per decoded keyframe, the model's centre crop, at the keyframes' times", async () => {
    const times = [...new Set(body.clips!.flatMap((c) => c.keyframeTimes))].sort((a, b) => a - b);
    expect(body.keyframes!.map((k) => k.time)).toEqual(times);
    expect(body.timing.thumbnailsMs).toBeGreaterThanOrEqual(0);
    expect(plain.keyframes).toBeUndefined();
    expect(plain.timing.thumbnailsMs).toBeUndefined();
    const first = await pngPixels(body.keyframes![0].image);
    expect([first.width, first.height]).toEqual([cropSize, cropSize]);
    // A picture, not a blank: the video's frames have structure.
    const greys = new Set(Array.from({ length: first.width * first.height }, (_, i) => first.data[i * 4]));
    expect(greys.size).toBeGreaterThan(8);
  });
});

describe("uploaded frames with explain and thumbnails", () => {
  it("one clip: times are null, one thumbnail per frame used", async () => {
    const frames = await Promise.all([0, 1, 2, 3].map(async (i) => file(await jpeg(96, 72, gradient(i)), `${i}.jpg`)));
    const body = await ok(await classify(form(frames), "?explain=1&thumbnails=1"), ClassifyFramesResponseSchema);
    expect(body.explain!.clips).toEqual([{ start: null, end: null, frames: expect.any(Array) }]);
    expect(body.explain!.clips[0].frames.every((f) => f.time === null && f.heatmap.length === 4)).toBe(true);
    expect(body.keyframes!.map((k) => k.time)).toEqual([null, null, null, null]);
  });
});

describe("errors", () => {
  it("an unknown label is a 400 listing the labels; a label without explain is a 400", async () => {
    const e = await expectError(await classify(bytes("high_moov_end"), "?explain=1&label=jump", mp4), 400, "unknown_label");
    expect(e.error.accepted).toContain(bundledManifest.labels.join(", "));
    await expectError(await classify(bytes("high_moov_end"), `?label=${bundledManifest.labels[0]}`, mp4), 400, "invalid_option");
    const bad = await expectError(await classify(bytes("high_moov_end"), "?explain=yes", mp4), 400, "invalid_option");
    expect(bad.error.message).toContain("explain: must be 1, true, 0 or false");
  });

  it("a model without a class map answers 409 explain_unavailable, before reading the video", async () => {
    const manifest = { ...structuredClone(tinyManifest), id: "no-map", version: "1" };
    await env.MODELS.put("models/no-map/1/manifest.json", JSON.stringify(manifest));
    await env.MODELS.put("models/no-map/1/model.onnx", tinyModel);
    const e = await expectError(await classify(new Uint8Array([1, 2, 3]), "?model=no-map&version=1&explain=1", mp4), 409, "explain_unavailable");
    expect(e.error.accepted).toContain("--explain");
  });
});

describe("encodePng", () => {
  it("round-trips through the PNG decoder the Worker uses for uploads", async () => {
    const [w, h] = [7, 5];
    const rgb = Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 37) % 256);
    const png = await encodePng(w, h, rgb);
    const image = await decodeFrame(png.buffer as ArrayBuffer, inspectFrame(png, "png"), "png");
    expect([image.width, image.height]).toEqual([w, h]);
    for (let i = 0; i < w * h; i++) expect(Array.from(image.data.subarray(i * 4, i * 4 + 3))).toEqual(Array.from(rgb.subarray(i * 3, i * 3 + 3)));
  });
});
