// Test frames are encoded inside workerd with the same codecs the Worker decodes
// with (their wasm imported as compiled modules, like the Worker's).
import { SELF } from "cloudflare:test";
import { expect } from "vitest";
import encodeJpegRaw, { init as initJpegRaw } from "@jsquash/jpeg/encode";
import jpegEncWasm from "@jsquash/jpeg/codec/enc/mozjpeg_enc.wasm";
import encodePngRaw, { init as initPngRaw } from "@jsquash/png/encode";
// @ts-expect-error The package's .d.ts types the instance's exports; the CompiledWasm rule hands over the module.
import pngWasm from "@jsquash/png/codec/pkg/squoosh_png_bg.wasm";

export const BASE = "http://edgevid.test";

let ready: Promise<unknown> | undefined;
function encoders(): Promise<unknown> {
  // The .d.ts lags the JS: init(module) takes the compiled module first.
  const initJpeg = initJpegRaw as unknown as (module: WebAssembly.Module) => Promise<void>;
  return (ready ??= Promise.all([initJpeg(jpegEncWasm), initPngRaw(pngWasm as WebAssembly.Module)]));
}

export type Pixel = (x: number, y: number) => [number, number, number];

export function rgba(width: number, height: number, pixel: Pixel): ImageData {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      data.set([...pixel(x, y), 255], (y * width + x) * 4);
    }
  }
  return { data, width, height, colorSpace: "srgb" } as ImageData;
}

/** A moving diagonal gradient: frame t of a small synthetic clip. */
export const gradient =
  (t: number): Pixel =>
  (x, y) => [(x * 7 + t * 20) % 256, (y * 5 + t * 11) % 256, (x + y + t * 3) % 256];

export async function jpeg(width: number, height: number, pixel: Pixel): Promise<Uint8Array> {
  await encoders();
  return new Uint8Array(await encodeJpegRaw(rgba(width, height, pixel), { quality: 90 }));
}

export async function png(width: number, height: number, pixel: Pixel): Promise<Uint8Array> {
  await encoders();
  return new Uint8Array(await encodePngRaw(rgba(width, height, pixel)));
}

export function file(bytes: Uint8Array, name: string, type = "application/octet-stream"): File {
  return new File([bytes as Uint8Array<ArrayBuffer>], name, { type });
}

/** multipart/form-data with the frames (in order) and string fields. */
export function form(frames: File[], fields: Record<string, string> = {}): FormData {
  const body = new FormData();
  for (const f of frames) body.append("frames", f);
  for (const [k, v] of Object.entries(fields)) body.append(k, v);
  return body;
}

export function classify(body: BodyInit | null, query = "", headers: HeadersInit = {}): Promise<Response> {
  return SELF.fetch(`${BASE}/v1/classify${query}`, { method: "POST", body, headers });
}

export interface ErrorJson {
  error: { code: string; message: string; accepted?: string };
  requestId: string;
}

/** The documented error shape: code, a message, what is accepted (4xx), the request id. */
export async function expectError(res: Response, status: number, code: string): Promise<ErrorJson> {
  const body = (await res.json()) as ErrorJson;
  expect({ status: res.status, code: body.error?.code }).toEqual({ status, code });
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  expect(body.error.message.length).toBeGreaterThan(0);
  if (status < 500) expect(body.error.accepted?.length).toBeGreaterThan(0);
  expect(body.requestId).toBe(res.headers.get("x-request-id"));
  return body;
}

export interface ClassifyJson {
  requestId: string;
  model: { id: string; version: string; sha256: string };
  top: { label: string; index: number; score: number }[];
  frames: { received: number; used: number };
  timing: { decodeMs: number; preprocessMs: number; inferenceMs: number; totalMs: number };
}

/** Checks the invariants of a successful answer and returns it. */
export async function expectClassified(res: Response): Promise<ClassifyJson> {
  expect(res.status, await res.clone().text()).toBe(200);
  const body = (await res.json()) as ClassifyJson;
  expect(body.requestId).toBe(res.headers.get("x-request-id"));
  const scores = body.top.map((p) => p.score);
  expect(scores).toEqual([...scores].sort((a, b) => b - a));
  expect(scores.every((s) => s >= 0 && s <= 1)).toBe(true);
  expect(scores.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(1 + 1e-9);
  for (const key of ["decodeMs", "preprocessMs", "inferenceMs", "totalMs"] as const) {
    expect(typeof body.timing[key]).toBe("number");
    expect(body.timing[key]).toBeGreaterThanOrEqual(0);
  }
  expect(body.timing.totalMs).toBeGreaterThanOrEqual(body.timing.inferenceMs);
  return body;
}
