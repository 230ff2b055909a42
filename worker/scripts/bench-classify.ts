// Latency of POST /v1/classify in workerd itself: Miniflare runs the bundle that
// `wrangler deploy --dry-run --outdir dist` wrote, without the V8 inspector that
// `wrangler dev` attaches (SYSTEM.md: it slows wasm 2–3×).
// Usage: npx wrangler deploy --dry-run --outdir dist
//        npx tsx worker/scripts/bench-classify.ts RUNS frame1.jpg frame2.jpg ...
import { framesBody, startBundledWorker } from "./local-worker.ts";

const [runsArg, ...paths] = process.argv.slice(2);
const runs = Number(runsArg);
if (!(runs >= 1) || paths.length === 0) {
  console.error("usage: bench-classify.ts RUNS FRAME...");
  process.exit(2);
}

const mf = startBundledWorker("dist");
const { body, contentType } = await framesBody(paths);

const times: number[] = [];
let server: unknown;
for (let i = 0; i <= runs; i++) {
  const start = performance.now();
  const res = await mf.dispatchFetch("http://bench/v1/classify", { method: "POST", body, headers: { "content-type": contentType } });
  const json = (await res.json()) as { timing?: unknown };
  const ms = performance.now() - start;
  if (res.status !== 200) throw new Error(`status ${res.status}: ${JSON.stringify(json)}`);
  if (i === 0) console.log(`first request (cold: ORT + decoder init, session): ${ms.toFixed(1)} ms`, json.timing);
  else times.push(ms);
  server = json.timing;
}
times.sort((a, b) => a - b);
const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))].toFixed(1);
console.log(`warm, ${runs} runs, ${paths.length} frames: median ${q(0.5)} ms, p90 ${q(0.9)} ms, min ${q(0)} ms; last server timing`, server);
await mf.dispose();
