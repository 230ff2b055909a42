// Byte sources: an R2 object read with range gets (the real miniflare R2
// binding) and an http(s) URL read with Range requests (served by
// fixtures/video-server.ts through miniflare's outboundService, standing in for
// the internet, which cannot be reached here). Both index exactly like the bytes.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ApiError } from "../src/errors.ts";
import { indexMp4 } from "../src/mp4/index-mp4.ts";
import { bytesSource, r2Source, urlSource, type Fetch } from "../src/mp4/source.ts";
import { videoBytes } from "./fixtures/videos.ts";

const HOST = "https://videos.example.test";

async function apiError(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApiError);
  return error as ApiError;
}

/** fetch, recording what urlSource asks for. */
function recording(): { fetcher: Fetch; requests: { url: string; range: string | null; redirect?: RequestRedirect }[] } {
  const requests: { url: string; range: string | null; redirect?: RequestRedirect }[] = [];
  const fetcher: Fetch = (url, init) => {
    requests.push({ url, range: new Headers(init.headers).get("range"), redirect: init.redirect });
    return fetch(url, init);
  };
  return { fetcher, requests };
}

describe("r2Source", () => {
  it("indexes a video in R2 with range gets, as from bytes", async () => {
    const bytes = videoBytes("long_720p");
    await env.VIDEOS.put("uploads/long.mp4", bytes);
    const source = await r2Source(env.VIDEOS, "uploads/long.mp4");
    expect(source.size).toBe(bytes.length);
    const fromR2 = await indexMp4(source);
    const fromBytes = await indexMp4(bytesSource(bytes));
    expect(fromR2.video.samples).toEqual(fromBytes.video.samples);
    expect([fromR2.bytesRead, fromR2.reads]).toEqual([fromBytes.bytesRead, fromBytes.reads]);
    expect(fromR2.bytesRead).toBeLessThan(bytes.length / 100);
    expect(await source.read(1000, 16)).toEqual(bytes.subarray(1000, 1016));
  });

  it("a missing key is a 404 naming it", async () => {
    const e = await apiError(r2Source(env.VIDEOS, "uploads/nope.mp4"));
    expect([e.status, e.code]).toEqual([404, "r2_key_not_found"]);
    expect(e.message).toContain('"uploads/nope.mp4"');
  });

  it("an object replaced between reads is a 409, not mixed bytes", async () => {
    await env.VIDEOS.put("uploads/changing.mp4", videoBytes("baseline"));
    const source = await r2Source(env.VIDEOS, "uploads/changing.mp4");
    await env.VIDEOS.put("uploads/changing.mp4", videoBytes("high_faststart"));
    const e = await apiError(source.read(0, 100));
    expect([e.status, e.code]).toEqual([409, "r2_object_changed"]);
  });
});

describe("urlSource", () => {
  it("indexes a video over Range requests, as from bytes, and reads samples by range", async () => {
    const { fetcher, requests } = recording();
    const bytes = videoBytes("long_720p");
    const source = await urlSource(`${HOST}/v/long_720p.mp4`, fetcher);
    expect(source.size).toBe(bytes.length);
    const fromUrl = await indexMp4(source);
    expect(fromUrl.video.samples).toEqual((await indexMp4(bytesSource(bytes))).video.samples);
    expect(requests.every((r) => r.redirect === "manual" && /^bytes=\d+-\d+$/.test(r.range ?? ""))).toBe(true);
    // The probe's first 4 KB serve the first header reads: probe, then the moov.
    expect(requests.map((r) => r.range)).toEqual(["bytes=0-4095", expect.stringMatching(/^bytes=\d+-\d+$/), expect.stringMatching(/^bytes=\d+-\d+$/)]);
    const last = fromUrl.video.samples.at(-1)!;
    expect(await source.read(last.offset, last.size)).toEqual(bytes.subarray(last.offset, last.offset + last.size));
  });

  it("follows up to 3 redirects (relative and absolute), re-checking each", async () => {
    const { fetcher, requests } = recording();
    const source = await urlSource(`${HOST}/hops/3/baseline.mp4`, fetcher);
    expect(source.what).toBe(`${HOST}/v/baseline.mp4`);
    expect((await indexMp4(source)).video.samples).toHaveLength(100);
    expect(requests.slice(0, 4).map((r) => new URL(r.url).pathname)).toEqual(["/hops/3/baseline.mp4", "/hops/2/baseline.mp4", "/hops/1/baseline.mp4", "/v/baseline.mp4"]);
    const e = await apiError(urlSource(`${HOST}/hops/4/baseline.mp4`));
    expect([e.status, e.code]).toEqual([422, "url_redirects"]);
    expect(e.message).toMatch(/more than 3 redirects/);
  });

  it("reads a small file whole from a server that ignores Range; refuses a large one", async () => {
    const index = await indexMp4(await urlSource(`${HOST}/plain/baseline.mp4`));
    expect(index.video.samples).toHaveLength(100);
    const e = await apiError(urlSource(`${HOST}/huge-plain/x.mp4`));
    expect([e.status, e.code]).toEqual([422, "url_too_large"]);
  });

  it("an empty file reaches the indexer's empty-file error", async () => {
    const e = await apiError(urlSource(`${HOST}/empty`).then((s) => indexMp4(s)));
    expect([e.status, e.code]).toEqual([400, "empty_video"]);
  });

  it("a 404 and an unreachable host are 422s naming the URL", async () => {
    const missing = await apiError(urlSource(`${HOST}/v/nope.mp4`));
    expect([missing.status, missing.code]).toEqual([422, "url_fetch_failed"]);
    expect(missing.message).toContain(`${HOST}/v/nope.mp4`);
    expect(missing.message).toMatch(/HTTP 404/);
    const down = await apiError(urlSource("https://videos.example.test/x.mp4", () => Promise.reject(new TypeError("connection refused"))));
    expect([down.status, down.code]).toEqual([422, "url_unreachable"]);
  });
});
