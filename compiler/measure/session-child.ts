// One model in one runtime, in a process of its own so that its peak wasm
// memory is its own (ORT's wasm memory grows and never shrinks, SYSTEM.md).
// argv: <web|node> <threads> <model.onnx>. stdin: one line per batch, a run
// count; stdout: one JSON line per batch {times, wasmBytes}. Inputs are a
// fixed random clip: latency does not depend on the pixel values.
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { decodeModel } from "../ir/index.ts";
import { seededRandom, uniform } from "../random.ts";

// The wasm build's memory, caught as it is instantiated: ORT does not expose it.
const memories: WebAssembly.Memory[] = [];
const instantiate = WebAssembly.instantiate.bind(WebAssembly) as (...args: unknown[]) => Promise<unknown>;
(WebAssembly as unknown as { instantiate: typeof instantiate }).instantiate = async (...args: unknown[]) => {
  const result = (await instantiate(...args)) as { instance?: WebAssembly.Instance } & WebAssembly.Instance;
  // Emscripten either exports its memory or imports one (env.memory).
  const imports = Object.values((args[1] ?? {}) as Record<string, Record<string, unknown>>).flatMap((ns) => Object.values(ns));
  const values = [...Object.values((result.instance ?? result).exports), ...imports];
  for (const value of values) if (value instanceof WebAssembly.Memory) memories.push(value);
  return result;
};

async function main(): Promise<void> {
  const [runtime, threadsArg, modelPath] = process.argv.slice(2);
  const threads = Number(threadsArg);
  if ((runtime !== "web" && runtime !== "node") || !(threads >= 1) || !modelPath) {
    throw new Error("usage: session-child.ts <web|node> <threads> <model.onnx>");
  }

  type Ort = typeof import("onnxruntime-node");
  const ort: Ort =
    runtime === "node" ? await import("onnxruntime-node") : ((await import("onnxruntime-web/wasm")) as unknown as Ort);
  if (runtime === "web") (ort as unknown as typeof import("onnxruntime-web")).env.wasm.numThreads = threads;

  const bytes = readFileSync(modelPath);
  const model = decodeModel(bytes, modelPath);
  const session = await ort.InferenceSession.create(bytes, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    logSeverityLevel: 3,
  });
  const random = seededRandom(1);
  const initializers = new Set(model.graph.initializers.map((t) => t.name));
  const feeds = Object.fromEntries(
    model.graph.inputs
      .filter((i) => !initializers.has(i.name))
      .map((i) => {
        const dims = (i.type?.shape ?? []).map((d) => (typeof d === "number" ? d : 1));
        return [i.name, new ort.Tensor("float32", uniform(random, dims.reduce((p, d) => p * d, 1)), dims)];
      }),
  );

  for await (const line of createInterface({ input: process.stdin })) {
    const count = Number(line);
    const times: number[] = [];
    for (let i = 0; i < count; i++) {
      const start = performance.now();
      await session.run(feeds);
      times.push(performance.now() - start);
    }
    const wasmBytes = memories.reduce((m, mem) => Math.max(m, mem.buffer.byteLength), 0);
    process.stdout.write(`${JSON.stringify({ times, wasmBytes })}\n`);
  }
  await session.release();
}

// One line the parent can quote (the parent names the model and runtime).
main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).message.split("\n")[0]}\n`);
  process.exit(1);
});
