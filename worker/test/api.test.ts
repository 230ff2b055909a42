// The HTTP API inside workerd with the real runtime: routes, classification of
// JPEG and PNG uploads, and a 4xx JSON answer for every kind of bad input.
// Nothing here depends on the default model's weights: labels and T come from
// GET /v1/models, so the suite holds when the lead swaps in the real model.
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { uniformIndices } from "../../contract/sampling.ts";
import { BASE, classify, expectClassified, expectError, file, form, gradient, jpeg, png } from "./helpers.ts";

interface ModelsJson {
  models: { id: string; version: string; source: string; latest: boolean; labelCount: number; labels: string[]; input: { frames: number; cropSize: number } }[];
  invalid: { key: string; problem: string }[];
}

let bundled: ModelsJson["models"][number];
let jpegFrames: File[];

beforeAll(async () => {
  const res = await SELF.fetch(`${BASE}/v1/models`);
  const body = (await res.json()) as ModelsJson;
  bundled = body.models.find((m) => m.source === "bundled")!;
  jpegFrames = await Promise.all(
    Array.from({ length: bundled.input.frames }, async (_, t) => file(await jpeg(96, 72, gradient(t)), `f${t}.jpg`, "image/jpeg")),
  );
});

describe("service routes", () => {
  it("GET /healthz answers ok with a generated request id", async () => {
    const res = await SELF.fetch(`${BASE}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
    expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("echoes a client's x-request-id and replaces an unsafe one", async () => {
    const mine = await SELF.fetch(`${BASE}/healthz`, { headers: { "x-request-id": "client-42" } });
    expect(mine.headers.get("x-request-id")).toBe("client-42");
    const unsafe = await SELF.fetch(`${BASE}/healthz`, { headers: { "x-request-id": "a b<script>" } });
    expect(unsafe.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("GET /v1/models lists the bundled model with its contract", async () => {
    expect(bundled.latest).toBe(true);
    expect(bundled.labelCount).toBe(bundled.labels.length);
    expect(bundled.labelCount).toBeGreaterThanOrEqual(2);
    expect(bundled.input.frames).toBeGreaterThanOrEqual(1);
  });

  it("writes one JSON log line per request", async () => {
    const log = vi.spyOn(console, "log");
    try {
      await SELF.fetch(`${BASE}/healthz`, { headers: { "x-request-id": "log-check" } });
      const lines = log.mock.calls.map((c) => String(c[0])).filter((l) => l.includes('"log-check"'));
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0])).toMatchObject({ requestId: "log-check", method: "GET", route: "/healthz", status: 200, ms: expect.any(Number) });
    } finally {
      log.mockRestore();
    }
  });

  it("answers CORS preflights and exposes the request id", async () => {
    const pre = await SELF.fetch(`${BASE}/v1/classify`, {
      method: "OPTIONS",
      headers: { Origin: "https://app.example", "Access-Control-Request-Method": "POST" },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-origin")).toBe("*");
    expect(pre.headers.get("access-control-allow-methods")).toContain("POST");
    const res = await SELF.fetch(`${BASE}/healthz`, { headers: { Origin: "https://app.example" } });
    expect(res.headers.get("access-control-expose-headers")?.toLowerCase()).toContain("x-request-id");
  });

  it("unknown routes and wrong methods are JSON errors", async () => {
    await expectError(await SELF.fetch(`${BASE}/v2/nothing`), 404, "not_found");
    const get = await SELF.fetch(`${BASE}/v1/classify`);
    expect(get.headers.get("allow")).toBe("POST");
    await expectError(get, 405, "method_not_allowed");
  });
});

describe("POST /v1/classify", () => {
  it("classifies T JPEG frames with the bundled model", async () => {
    const body = await expectClassified(await classify(form(jpegFrames)));
    expect(body.model.id).toBe(bundled.id); // "default" names the bundled model, whatever its id
    expect(body.model.version).toBe(bundled.version);
    expect(body.model.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(body.top).toHaveLength(Math.min(5, bundled.labelCount));
    for (const p of body.top) expect(p.label).toBe(bundled.labels[p.index]);
    expect(body.frames).toEqual({ received: bundled.input.frames, used: bundled.input.frames });
  });

  it("classifies PNG frames, fewer than T, with topk from the form", async () => {
    const frames = await Promise.all([0, 1, 2].map(async (t) => file(await png(40, 64, gradient(t)), `f${t}.png`, "image/png")));
    const body = await expectClassified(await classify(form(frames, { topk: "2" })));
    expect(body.top).toHaveLength(2);
    expect(body.frames).toEqual({ received: 3, used: new Set(uniformIndices(3, bundled.input.frames)).size });
  });

  it("subsamples more frames than T like training, and topk = all labels sums to 1", async () => {
    const n = bundled.input.frames * 2 + 1;
    const frames = Array.from({ length: n }, (_, i) => jpegFrames[i % jpegFrames.length]);
    const body = await expectClassified(await classify(form(frames), `?topk=${bundled.labelCount}&model=default&version=latest`));
    expect(body.frames).toEqual({ received: n, used: bundled.input.frames });
    expect(body.top.map((p) => p.index).sort((a, b) => a - b)).toEqual(bundled.labels.map((_, i) => i));
    expect(body.top.reduce((a, p) => a + p.score, 0)).toBeCloseTo(1, 6);
  });

  it("sniffs the type from the bytes, not the declared content type", async () => {
    const mislabelled = jpegFrames.map((f) => new File([f], "frame.png", { type: "image/png" }));
    await expectClassified(await classify(form(mislabelled)));
  });

  it("serves one frame (a single image) by repeating it over T", async () => {
    const body = await expectClassified(await classify(form([jpegFrames[0]])));
    expect(body.frames).toEqual({ received: 1, used: 1 });
  });
});
