// `npm run bench:load`: POST /v1/classify under concurrent load, the Worker
// bundle in workerd (Miniflare, no wrangler dev), driven over loopback from
// this process with real H.264 MP4s made by ffmpeg (cached in .cache/bench-load/):
// 10 s phone-style 720p and 1080p, 30 fps, High profile, B-frames, GOP 30,
// moov at the end. For each video and concurrency (closed loop: C clients,
// each sending its next request when its last is answered; bounded by a
// request count and a time limit) it prints throughput, latency p50/p99, the
// answers by status and code, answers that are not JSON or never came
// (restarts, resets), and the isolate's peak memory.
//
// Two passes over the same levels, so that memory sampling cannot colour the timings:
//  - timing: workerd without the inspector;
//  - memory: workerd with its V8 inspector port open, polled for the isolate's
//    heap (Runtime.getHeapUsage: JS objects + ArrayBuffer backing stores; no
//    debugger is enabled, so wasm is not tiered down), plus the wasm memories
//    (ORT, H.264) that the Worker's request log reports (wasmBytes). The peak
//    is the heap's highest sample plus the wasm memories, which never shrink.
// A baseline in the same run: the 720p level at the highest concurrency with
// the admission budget and queue unbounded (what the byte budget buys; decode
// and inference still run one request at a time).
//
//   npm run bench:load [-- --levels 1,8,32,64 --requests 3 --seconds 60]
await import("../tagger/register.mjs");
const { rmSync } = await import("node:fs");
const { cpus, loadavg } = await import("node:os");
const { join } = await import("node:path");
const { parseArgs } = await import("node:util");
const { WebSocket } = await import("ws");
const { bundleWorker, startBundledWorker } = await import("../worker/scripts/local-worker.ts");
const { makeVideo, VIDEOS } = await import("./bench-videos.ts");
type VideoName = keyof typeof VIDEOS;

const root = new URL("..", import.meta.url).pathname;
const cache = join(root, ".cache", "bench-load");
const MIB = 1024 * 1024;
const ISOLATE_LIMIT = 128 * MIB;

const { values } = parseArgs({
  options: {
    levels: { type: "string", default: "1,8,32,64" },
    /** Requests per level: this many per client, at least 16. */
    requests: { type: "string", default: "3" },
    seconds: { type: "string", default: "60" },
  },
});
const levels = values.levels.split(",").map(Number);
const perClient = Number(values.requests);
const levelSeconds = Number(values.seconds);
if (levels.some((c) => !(c >= 1)) || !(perClient >= 1) || !(levelSeconds > 0)) {
  console.error("usage: npm run bench:load -- [--levels 1,8,32,64] [--requests N per client] [--seconds S per level]");
  process.exit(2);
}

interface Outcome {
  ms: number;
  status: number | "no answer";
  code?: string;
  json: boolean;
}

async function send(url: string, body: Uint8Array): Promise<Outcome> {
  const start = performance.now();
  try {
    const res = await fetch(`${url}v1/classify?topk=3`, { method: "POST", body: body as Uint8Array<ArrayBuffer>, headers: { "content-type": "video/mp4" } });
    const text = await res.text();
    let code: string | undefined;
    let json = false;
    try {
      const parsed = JSON.parse(text) as { error?: { code?: string } };
      json = (res.headers.get("content-type") ?? "").startsWith("application/json");
      code = parsed.error?.code;
    } catch {
      code = text.slice(0, 60);
    }
    return { ms: performance.now() - start, status: res.status, code, json };
  } catch (error) {
    return { ms: performance.now() - start, status: "no answer", code: String((error as Error).cause ?? error).slice(0, 60), json: false };
  }
}

/** C clients in a closed loop until `total` requests were sent or the time is up. */
async function drive(url: string, body: Uint8Array, clients: number, total: number): Promise<{ outcomes: Outcome[]; seconds: number }> {
  const outcomes: Outcome[] = [];
  const deadline = performance.now() + levelSeconds * 1000;
  let started = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (started < total && performance.now() < deadline) {
        started++;
        outcomes.push(await send(url, body));
      }
    }),
  );
  return { outcomes, seconds: (performance.now() - t0) / 1000 };
}

/** The isolate's heap, polled over the inspector (no debugger enabled). */
class HeapProbe {
  private ws!: InstanceType<typeof WebSocket>;
  private next = 0;
  private pending = new Map<number, (value: { usedSize: number; backingStorageSize: number }) => void>();
  private timer?: NodeJS.Timeout;
  peak = 0;

  async open(port: number): Promise<void> {
    const targets = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as { id: string; webSocketDebuggerUrl: string }[];
    const target = targets.find((t) => t.id === "core:user:");
    if (!target) throw new Error(`no inspector target for the Worker among ${targets.map((t) => t.id)}`);
    this.ws = new WebSocket(target.webSocketDebuggerUrl);
    await new Promise((resolve, reject) => this.ws.once("open", resolve).once("error", reject));
    this.ws.on("message", (data) => {
      const message = JSON.parse(String(data)) as { id?: number; result?: { usedSize: number; backingStorageSize: number } };
      if (message.id !== undefined && message.result) this.pending.get(message.id)?.(message.result);
      if (message.id !== undefined) this.pending.delete(message.id);
    });
  }

  sample(): Promise<number> {
    const id = ++this.next;
    return new Promise((resolve) => {
      this.pending.set(id, (r) => resolve(r.usedSize + (r.backingStorageSize ?? 0)));
      this.ws.send(JSON.stringify({ id, method: "Runtime.getHeapUsage" }));
    });
  }

  start(): void {
    this.peak = 0;
    const poll = async () => {
      this.peak = Math.max(this.peak, await this.sample());
      this.timer = setTimeout(poll, 20);
    };
    void poll();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  close(): void {
    this.stop();
    this.ws.close();
  }
}

interface Level {
  video: VideoName;
  clients: number;
  vars?: Record<string, string>;
  label?: string;
}

const quantile = (sorted: number[], q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : NaN);

function summary(outcomes: Outcome[], seconds: number) {
  const ok = outcomes.filter((o) => o.status === 200);
  const latencies = ok.map((o) => o.ms).sort((a, b) => a - b);
  const byCode = new Map<string, number>();
  for (const o of outcomes) {
    if (o.status === 200) continue;
    const key = `${o.status} ${o.code ?? ""}`.trim();
    byCode.set(key, (byCode.get(key) ?? 0) + 1);
  }
  return {
    requests: outcomes.length,
    ok: ok.length,
    perSecond: ok.length / seconds,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    notOk: [...byCode].map(([k, n]) => `${k}: ${n} (${((100 * n) / outcomes.length).toFixed(0)}%)`).join(", ") || "none",
    broken: outcomes.filter((o) => !o.json).length,
  };
}

async function pass(levelsToRun: Level[], memory: boolean, bodies: Record<VideoName, Uint8Array>) {
  const rows: { level: Level; result: ReturnType<typeof summary>; peakHeap?: number; wasm?: number }[] = [];
  for (const level of levelsToRun) {
    const wasm: Record<string, number> = {};
    const port = 9300 + Math.floor(Math.random() * 500);
    const mf = startBundledWorker(dist, "index.js", {
      vars: level.vars,
      inspectorPort: memory ? port : undefined,
      onLine: (line) => {
        if (!line.includes('"wasmBytes"')) return;
        try {
          for (const [name, bytes] of Object.entries((JSON.parse(line) as { wasmBytes: Record<string, number> }).wasmBytes)) wasm[name] = Math.max(wasm[name] ?? 0, bytes);
        } catch {
          // not a log line of ours
        }
      },
    });
    const url = String(await mf.ready);
    const body = bodies[level.video];
    // Warm: ORT, the decoder and V8's tiers, as a Worker that has served before.
    for (let i = 0; i < 2; i++) {
      const warm = await send(url, body);
      if (warm.status !== 200) throw new Error(`warm-up request: ${warm.status} ${warm.code}`);
    }
    const probe = memory ? new HeapProbe() : undefined;
    if (probe) {
      await probe.open(port);
      probe.start();
    }
    const { outcomes, seconds } = await drive(url, body, level.clients, Math.max(16, perClient * level.clients));
    probe?.stop();
    await new Promise((r) => setTimeout(r, 100)); // the last log lines
    const wasmTotal = Object.values(wasm).reduce((a, b) => a + b, 0);
    rows.push({ level, result: summary(outcomes, seconds), peakHeap: probe?.peak, wasm: wasmTotal });
    probe?.close();
    await mf.dispose();
    const r = rows.at(-1)!;
    process.stderr.write(
      `  ${memory ? "memory" : "timing"} ${level.label ?? ""}${level.video} ×${level.clients}: ${r.result.ok}/${r.result.requests} ok, ${r.result.perSecond.toFixed(1)}/s, p50 ${r.result.p50.toFixed(0)} ms` +
        (memory ? `, peak ${((r.peakHeap! + wasmTotal) / MIB).toFixed(1)} MiB` : "") +
        "\n",
    );
  }
  return rows;
}

const dist = join(cache, "dist");
rmSync(dist, { recursive: true, force: true });
process.stderr.write("bundling the Worker (wrangler deploy --dry-run)…\n");
bundleWorker(dist, root);
const bodies = { "720p": makeVideo("720p", cache), "1080p": makeVideo("1080p", cache) };
const top = Math.max(...levels);
const plan: Level[] = (["720p", "1080p"] as const).flatMap((video) => levels.map((clients) => ({ video, clients })));
const unbounded = { ADMISSION_BYTES: String(2 ** 40), ADMISSION_QUEUE: String(1e6) };
plan.push({ video: "720p", clients: top, vars: unbounded, label: "baseline, no byte budget: " });

process.stderr.write(`${plan.length} levels, two passes; ${cpus().length} cores, load ${loadavg().map((l) => l.toFixed(1)).join(" ")}\n`);
const timing = await pass(plan, false, bodies);
const memory = await pass(plan, true, bodies);

const mb = (bytes: number) => (bytes / MIB).toFixed(1);
console.log(`\nPOST /v1/classify under load, models/default, workerd (Miniflare) on ${cpus().length} cores; videos: ` +
  (Object.keys(VIDEOS) as VideoName[]).map((v) => `${v} ${(bodies[v].length / MIB).toFixed(2)} MiB`).join(", "));
console.log("| video | clients | requests | 200 | req/s | p50 ms | p99 ms | not 200 (timing pass) | not JSON / no answer | peak heap MiB | wasm MiB | peak total MiB | not 200 (memory pass) |");
console.log("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
let worst = 0;
let broken = 0;
timing.forEach((t, i) => {
  const m = memory[i];
  const total = m.peakHeap! + m.wasm!;
  if (!t.level.label) worst = Math.max(worst, total);
  if (!t.level.label) broken += t.result.broken + m.result.broken;
  console.log(
    `| ${t.level.label ?? ""}${t.level.video} | ${t.level.clients} | ${t.result.requests} | ${t.result.ok} | ${t.result.perSecond.toFixed(1)} | ${t.result.p50.toFixed(0)} | ${t.result.p99.toFixed(0)} | ${t.result.notOk} | ${t.result.broken + m.result.broken} | ${mb(m.peakHeap!)} | ${mb(m.wasm!)} | ${mb(total)} | ${m.result.notOk} |`,
  );
});
const baseline = timing.at(-1)!;
const gated = timing.find((t) => !t.level.label && t.level.video === "720p" && t.level.clients === top)!;
console.log(
  `720p ×${top} without the byte budget: ${baseline.result.broken} of ${baseline.result.requests} answers never came or were not JSON (the isolate restarted), ` +
    `${baseline.result.perSecond.toFixed(1)} req/s; with it: ${gated.result.broken} of ${gated.result.requests}, ${gated.result.perSecond.toFixed(1)} req/s ` +
    `(${(gated.result.perSecond / baseline.result.perSecond).toFixed(2)}× the throughput). The baseline's memory row is what the probe saw between restarts.`,
);
