import { describe, expect, it } from "vitest";
import { ISOLATE_LIMIT_BYTES, measureModels } from "./latency.ts";
import { summarize } from "./stats.ts";

describe("summarize", () => {
  it("gives the median and interpolated quartiles", () => {
    expect(summarize([5, 1, 3, 2, 4])).toEqual({ runs: 5, medianMs: 3, q1Ms: 2, q3Ms: 4, minMs: 1, maxMs: 5 });
    expect(summarize([1, 2]).medianMs).toBe(1.5);
    expect(() => summarize([])).toThrow(/no timings/);
  });
});

describe("measureModels", () => {
  it("times the bundled model in the wasm build and in onnxruntime-node, with the wasm memory", async () => {
    const [m] = await measureModels(["models/default/model.onnx"], { warmup: 1, rounds: 2, runsPerRound: 2 });
    expect(m.web!.timing.runs).toBe(4);
    expect(m.node!.timing.runs).toBe(4);
    expect(m.web!.timing.medianMs).toBeGreaterThan(0);
    // ORT's wasm heap starts at 16 MiB (SYSTEM.md) and is far under the limit for this model.
    expect(m.web!.peakWasmBytes).toBeGreaterThanOrEqual(16 * 2 ** 20);
    expect(m.web!.peakWasmBytes).toBeLessThan(ISOLATE_LIMIT_BYTES);
    expect(m.node!.peakWasmBytes).toBeUndefined();
  }, 60_000);

  it("names the model when its process fails", async () => {
    await expect(measureModels(["does/not/exist.onnx"], { runtimes: ["node"] })).rejects.toThrow(/does\/not\/exist.onnx \(node\): the measuring process ended: ENOENT: no such file/);
  }, 30_000);
});
