// Fuzzing the MP4 path of the Worker as it deploys (bundled by wrangler, run
// in workerd by Miniflare, one isolate for every case): seeded mutations of
// the shared ffmpeg-made H.264 fixtures (mp4-mutations.ts) posted as
// video/mp4 bodies. Every answer must be a 200 with scores or a 4xx with the
// JSON error shape, never a 5xx, and a valid request must still succeed
// afterwards. (Node-driven: inside vitest-pool-workers each SELF.fetch gets
// slower the more an isolate has served, so thousands of cases would take
// most of an hour there; against Miniflare they take a minute.)
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadVideos } from "../worker/test/fixtures/videos.global.ts";
import { bundleWorker, startBundledWorker } from "../worker/scripts/local-worker.ts";
import { MUTATOR_NAMES, mutate } from "./mp4-mutations.ts";

const root = resolve(import.meta.dirname, "..");
const SEEDS = ["high_moov_end", "high_faststart", "baseline", "fragmented", "odd_size"];
const CASES_PER_SEED = 420;

let mf: Miniflare;
let seeds: Record<string, Uint8Array>;

function post(body: Uint8Array): Promise<Response> {
  return mf.dispatchFetch("http://edge.test/v1/classify", { method: "POST", body, headers: { "content-type": "video/mp4" } }) as unknown as Promise<Response>;
}

interface Failure {
  seed: string;
  n: number;
  applied: string[];
  status: number;
  body: string;
}

describe("fuzz: mutated MP4s never get a 5xx", () => {
  beforeAll(() => {
    const videos = loadVideos();
    seeds = Object.fromEntries(SEEDS.map((name) => [name, new Uint8Array(Buffer.from(videos[name].base64, "base64"))]));
    const dist = join(root, ".cache", "fuzz-mp4", "dist");
    mkdirSync(dist, { recursive: true });
    bundleWorker(dist, root);
    mf = startBundledWorker(dist, "index.js", { quiet: true });
  }, 600_000);

  afterAll(async () => {
    await mf?.dispose();
  });

  it(`${SEEDS.length} × ${CASES_PER_SEED} mutated files`, { timeout: 900_000 }, async () => {
    const statuses = new Map<string, number>();
    const byMutator = new Map<string, Map<number, number>>(MUTATOR_NAMES.map((m) => [m, new Map()]));
    const failures: Failure[] = [];
    const started = Date.now();
    let total = 0;
    for (const [s, seed] of SEEDS.entries()) {
      for (let n = 0; n < CASES_PER_SEED; n++) {
        const { bytes, applied } = mutate(seeds[seed], s * 1_000_003 + n);
        const res = await post(bytes);
        const text = await res.text();
        total++;
        let body: { error?: { code?: unknown; message?: unknown; accepted?: unknown }; requestId?: unknown; top?: unknown } | undefined;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        const key = `${res.status} ${res.status === 200 ? "ok" : String(body?.error?.code)}`;
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
        for (const m of applied) byMutator.get(m)!.set(res.status, (byMutator.get(m)!.get(res.status) ?? 0) + 1);
        const wellFormed =
          res.status === 200
            ? Array.isArray(body?.top)
            : res.status >= 400 &&
              res.status < 500 &&
              typeof body?.error?.code === "string" &&
              typeof body.error.message === "string" &&
              typeof body.error.accepted === "string" &&
              typeof body.requestId === "string";
        if (!wellFormed) failures.push({ seed, n, applied, status: res.status, body: text.slice(0, 300) });
      }
    }
    const seconds = (Date.now() - started) / 1000;
    console.log(`fuzz-mp4: ${total} cases in ${seconds.toFixed(1)} s (${(total / seconds).toFixed(1)}/s)`);
    for (const [key, count] of [...statuses].sort((a, b) => b[1] - a[1])) console.log(`fuzz-mp4:   ${String(count).padStart(5)}  ${key}`);
    for (const [m, counts] of byMutator) {
      console.log(`fuzz-mp4:   ${m}: ${[...counts].sort((a, b) => a[0] - b[0]).map(([st, c]) => `${st}×${c}`).join(" ")}`);
    }
    for (const f of failures.slice(0, 10)) console.log(`fuzz-mp4: FAIL ${f.seed} #${f.n} [${f.applied}] → ${f.status} ${f.body}`);
    expect(total).toBeGreaterThanOrEqual(2000);
    expect(failures).toEqual([]);
    // Both outcomes occur: mutations reach the decoder and the model, not only the box parser.
    expect([...statuses.keys()].some((k) => k.startsWith("200"))).toBe(true);
    expect([...statuses.keys()].filter((k) => k.startsWith("4")).length).toBeGreaterThan(3);

    // The isolate still serves a valid video.
    const after = await post(seeds.high_moov_end);
    expect(after.status, await after.clone().text()).toBe(200);
  });
});
