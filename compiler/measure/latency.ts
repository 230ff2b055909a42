// Latency of candidate models in onnxruntime-web (the wasm build the Worker
// runs, here in Node's V8, one thread) and onnxruntime-node (native kernels,
// threads set explicitly). Each model runs in a child process of its own
// (session-child.ts); rounds are interleaved across candidates so that the
// shared machine's slow spells hit all of them alike, and ratios against the
// first candidate (the fp32 baseline) come from the same run; each round
// starts with another model.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createInterface, type Interface } from "node:readline";
import { fileURLToPath } from "node:url";
import { summarize, type Timing } from "./stats.ts";

export type Runtime = "web" | "node";

export interface MeasureOptions {
  readonly runtimes?: readonly Runtime[];
  /** Untimed runs per model before the first round. */
  readonly warmup?: number;
  readonly rounds?: number;
  /** Timed runs per model per round. */
  readonly runsPerRound?: number;
  /** onnxruntime-node's intra-op threads; the wasm build always runs one (as the Worker). */
  readonly nodeThreads?: number;
}

export interface RuntimeMeasurement {
  readonly timing: Timing;
  /** onnxruntime-web only: the wasm memory's size after the runs (it never shrinks, so this is the peak). */
  readonly peakWasmBytes?: number;
}

export type Measurement = Partial<Record<Runtime, RuntimeMeasurement>>;

/** The Worker's isolate memory limit (Cloudflare): a model whose wasm memory passes it cannot be served. */
export const ISOLATE_LIMIT_BYTES = 128 * 1024 * 1024;

const CHILD = fileURLToPath(new URL("./session-child.ts", import.meta.url));

interface Child {
  readonly process: ChildProcessWithoutNullStreams;
  readonly lines: AsyncIterator<string>;
  readonly reader: Interface;
  stderr: string;
}

function startChild(runtime: Runtime, threads: number, modelPath: string): Child {
  const proc = spawn(process.execPath, ["--import", "tsx", CHILD, runtime, String(threads), modelPath], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  const reader = createInterface({ input: proc.stdout });
  const child: Child = { process: proc, reader, lines: reader[Symbol.asyncIterator](), stderr: "" };
  proc.stderr.on("data", (d: Buffer) => (child.stderr += d.toString()));
  return child;
}

async function batch(child: Child, runs: number, what: string): Promise<{ times: number[]; wasmBytes: number }> {
  child.process.stdin.write(`${runs}\n`);
  const next = await child.lines.next();
  if (next.done) throw new Error(`${what}: the measuring process ended: ${child.stderr.trim().split("\n").slice(-5).join("\n")}`);
  return JSON.parse(next.value) as { times: number[]; wasmBytes: number };
}

/** Measures every model (paths) in every runtime; results in the order of `models`. */
export async function measureModels(models: readonly string[], options: MeasureOptions = {}): Promise<Measurement[]> {
  const { runtimes = ["web", "node"], warmup = 2, rounds = 5, runsPerRound = 3, nodeThreads = 1 } = options;
  const results: Measurement[] = models.map(() => ({}));
  // One runtime at a time: two sessions running at once would time each other.
  for (const runtime of runtimes) {
    const children = models.map((m) => startChild(runtime, runtime === "web" ? 1 : nodeThreads, m));
    try {
      const times = models.map(() => [] as number[]);
      const wasm = models.map(() => 0);
      for (const [i, child] of children.entries()) await batch(child, warmup, `${models[i]} (${runtime})`);
      for (let r = 0; r < rounds; r++) {
        // A rotating order: no model always runs first after another's batch.
        for (let k = 0; k < models.length; k++) {
          const i = (k + r) % models.length;
          const got = await batch(children[i], runsPerRound, `${models[i]} (${runtime})`);
          times[i].push(...got.times);
          wasm[i] = got.wasmBytes;
        }
      }
      for (const [i] of models.entries()) {
        results[i][runtime] = { timing: summarize(times[i]), ...(runtime === "web" ? { peakWasmBytes: wasm[i] } : {}) };
      }
    } finally {
      for (const child of children) {
        child.reader.close();
        child.process.stdin.end();
        child.process.kill();
      }
    }
  }
  return results;
}
