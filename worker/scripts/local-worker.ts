// The Worker as it deploys, run in workerd by Miniflare without the V8
// inspector that `wrangler dev` attaches (SYSTEM.md: it slows wasm 2–3×).
// Used by the latency benchmark and the end-to-end test.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { Miniflare } from "miniflare";

/**
 * Bundles the Worker with wrangler (as `wrangler deploy` would) into `outDir`;
 * `config` names another wrangler config than wrangler.toml (a benchmark's own Worker).
 */
export function bundleWorker(outDir: string, cwd = process.cwd(), config?: string): void {
  const args = ["wrangler", "deploy", "--dry-run", "--outdir", outDir, ...(config ? ["--config", config] : [])];
  const r = spawnSync("npx", args, { cwd, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`wrangler deploy --dry-run failed:\n${r.stdout}\n${r.stderr}`);
}

export interface LocalWorkerOptions {
  /** A local state directory shared with `wrangler kv/r2 ... --persist-to` (default: in memory). */
  persistTo?: string;
  /** More vars and secrets (e.g. ADMIN_TOKEN). */
  vars?: Record<string, string>;
  /** Drop the Worker's console output (its per-request and per-message log lines), e.g. in a benchmark. */
  quiet?: boolean;
  /** Instead of printing the Worker's stdout, hand each line to this (a benchmark reading the request log). */
  onLine?: (line: string) => void;
  /** Open workerd's V8 inspector on this port (no debugger is attached unless a client enables one). */
  inspectorPort?: number;
}

/** Starts the bundle in `distDir` (entry module `main`) with wrangler.toml's bindings (R2, KV, Durable Objects, Queues), API keys optional. */
export function startBundledWorker(distDir: string, main = "index.js", { persistTo, vars = {}, quiet = false, onLine, inspectorPort }: LocalWorkerOptions = {}): Miniflare {
  // Modules are listed by hand: ORT's bundle holds a dynamic import (unused
  // here) that Miniflare's module walker refuses.
  const files = readdirSync(distDir);
  return new Miniflare({
    modulesRoot: distDir,
    modules: [
      { type: "ESModule", path: join(distDir, main) },
      ...files.filter((f) => f.endsWith(".wasm")).map((f) => ({ type: "CompiledWasm" as const, path: join(distDir, f) })),
      ...files.filter((f) => f.endsWith(".onnx")).map((f) => ({ type: "Data" as const, path: join(distDir, f) })),
      // The rest of the modules wrangler wrote by a rule (named <sha1>-<file>): the playground's Text files.
      ...files.filter((f) => /^[0-9a-f]{40}-/.test(f) && !/\.(wasm|onnx)$/.test(f)).map((f) => ({ type: "Text" as const, path: join(distDir, f) })),
    ],
    compatibilityDate: "2026-04-20",
    compatibilityFlags: ["nodejs_compat"],
    // Bucket names as in wrangler.toml: `wrangler r2 object put --local` state is keyed by them.
    r2Buckets: { MODELS: "edgevid-models", VIDEOS: "edgevid-videos" },
    // Like `npm start`: requests without an API key are served (wrangler.toml requires keys when deployed).
    bindings: { REQUIRE_API_KEY: "false", ...vars },
    // A request that does send a key is checked and rate-limited as deployed.
    // wrangler.toml's namespace id: the namespace that `npm run keys` writes.
    kvNamespaces: { API_KEYS: "edgevid-api-keys" },
    durableObjects: {
      RATE_LIMITER: { className: "RateLimiter", useSQLite: true },
      JOB_COORDINATOR: { className: "JobCoordinator", useSQLite: true },
      JOB_INDEX: { className: "JobIndex", useSQLite: true },
    },
    // The tagging queue and its dead-letter queue, consumed by the Worker itself, as in wrangler.toml.
    queueProducers: { TAG_QUEUE: { queueName: "edgevid-tag-batches" } },
    queueConsumers: {
      "edgevid-tag-batches": { maxBatchSize: 4, maxBatchTimeout: 1, maxRetries: 5, deadLetterQueue: "edgevid-tag-dlq" },
      "edgevid-tag-dlq": { maxBatchSize: 10, maxBatchTimeout: 1, maxRetries: 3 },
    },
    ...(persistTo ? { kvPersist: join(persistTo, "v3", "kv"), durableObjectsPersist: join(persistTo, "v3", "do"), r2Persist: join(persistTo, "v3", "r2") } : {}),
    // Any free port for its HTTP server: beside `npm start` and other instances.
    port: 0,
    ...(quiet || onLine ? { handleRuntimeStdio: (stdout: NodeJS.ReadableStream, stderr: NodeJS.ReadableStream) => void readLines(stdout, stderr, onLine) } : {}),
    ...(inspectorPort ? { inspectorPort } : {}),
  });
}

function readLines(stdout: NodeJS.ReadableStream, stderr: NodeJS.ReadableStream, onLine?: (line: string) => void): void {
  stderr.resume();
  if (!onLine) return void stdout.resume();
  let rest = "";
  stdout.on("data", (chunk: Buffer) => {
    const lines = (rest + chunk.toString("utf8")).split("\n");
    rest = lines.pop()!;
    lines.forEach(onLine);
  });
}

/**
 * A multipart body of `frames` files, encoded once as bytes: Node's FormData
 * is not Miniflare's, so it cannot be passed to dispatchFetch directly.
 */
export async function framesBody(paths: string[]): Promise<{ body: Uint8Array; contentType: string }> {
  const form = new FormData();
  for (const p of paths) {
    const type = p.endsWith(".png") ? "image/png" : "image/jpeg";
    form.append("frames", new Blob([readFileSync(p)], { type }), basename(p));
  }
  const encoded = new Request("http://local/", { method: "POST", body: form });
  return { body: new Uint8Array(await encoded.arrayBuffer()), contentType: encoded.headers.get("content-type")! };
}
