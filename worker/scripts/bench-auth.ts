// What API keys and rate limits add to a request, in workerd itself (Miniflare
// running the deploy bundle; local KV and Durable Object, so the edge's network
// hops are not in these numbers): GET /v1/models without a key (local dev) and
// with one (KV lookup by hash + one Durable Object call), interleaved.
// Usage: npx wrangler deploy --dry-run --outdir dist
//        npx tsx worker/scripts/bench-auth.ts [RUNS] | grep -v '^{'   (drops the Worker's log lines)
import { newKey, storageKey } from "../src/keys.ts";
import { startBundledWorker } from "./local-worker.ts";

const runs = Number(process.argv[2] ?? 300);
if (!(runs >= 1)) {
  console.error("usage: bench-auth.ts [RUNS]");
  process.exit(2);
}

const mf = startBundledWorker("dist");
// A policy that never limits: the bucket is consulted but always has a token.
const { key, record } = newKey("bench", { perMinute: 1_000_000, burst: 100_000 });
await (await mf.getKVNamespace("API_KEYS")).put(await storageKey(key), JSON.stringify(record));

async function timed(headers: Record<string, string>): Promise<number> {
  const start = performance.now();
  const res = await mf.dispatchFetch("http://bench/v1/models", { headers });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`status ${res.status}`);
  return performance.now() - start;
}

const anonymous: number[] = [];
const keyed: number[] = [];
await timed({}); // first request: bundled manifest parse, isolate warm-up
await timed({ Authorization: `Bearer ${key}` });
for (let i = 0; i < runs; i++) {
  anonymous.push(await timed({}));
  keyed.push(await timed({ Authorization: `Bearer ${key}` }));
}
const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
for (const [name, xs] of [["no key", anonymous], ["with key", keyed]] as const) {
  console.log(`${name.padEnd(8)} ${runs} runs: median ${q(xs, 0.5).toFixed(2)} ms, p90 ${q(xs, 0.9).toFixed(2)} ms`);
}
console.log(`key check + rate limit add ${(q(keyed, 0.5) - q(anonymous, 0.5)).toFixed(2)} ms at the median`);
await mf.dispose();
