// The "quantize" stage of `npm run compile -- <input> --config compile.json`:
// runs last, writes the int8 model as the compiled artifact, is cached.
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadModel } from "../ir/index.ts";
import { parseCompileConfig } from "../stages/config.ts";
import { runStages } from "../stages/run.ts";
import { writeRunDir } from "../testing/run-dir.ts";
import { videoModel } from "../testing/video-model.ts";
import { encodeNpy } from "./npy.ts";
import { movingClips } from "./test-support.ts";

async function clipDir(dir: string, seed: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  const clips = movingClips(4, [1, 3, 4, 16, 16], seed);
  for (const [i, c] of clips.entries()) await writeFile(join(dir, `c${i}.npy`), encodeNpy([3, 4, 16, 16], c.input.data as Float32Array));
}

describe("compile stage: quantize", () => {
  it("quantizes the optimized model with compile.json's settings, then finds itself cached", async () => {
    const dir = await mkdtemp(join(tmpdir(), "edgevid-qstage-"));
    await writeRunDir(dir, videoModel());
    await clipDir(join(dir, "calib"), 1);
    await clipDir(join(dir, "held"), 2);
    const config = parseCompileConfig({ quantize: { calib: "calib", eval: "held", format: "qoperator", mixed: true, budget: 0 } }, join(dir, "compile.json"));
    expect(config.quantize?.calib).toBe(join(dir, "calib"));
    const lines: string[] = [];
    const first = await runStages(dir, config, { out: join(dir, "out"), log: (l) => lines.push(l) });
    expect(first.stages.map((s) => [s.name, s.cached])).toEqual([["optimize", false], ["quantize", false]]);
    expect(first.stages[1].record.summary).toMatch(/^qoperator minmax; int8 agreement [\d.]+%, top-1 drop [\d.]+ points; mixed: \d+ layers fp32, drop 0\.00$/);
    const model = await loadModel(join(dir, "out", "model.onnx"));
    expect(model.graph.nodes.some((n) => n.op === "QLinearConv")).toBe(true);
    const again = await runStages(dir, config, { out: join(dir, "out"), log: () => {} });
    expect(again.stages.map((s) => s.cached)).toEqual([true, true]);
    expect(() => parseCompileConfig({ quantize: { calib: "c", mixed: true } }, "compile.json")).toThrow("compile.json: quantize.mixed: mixed needs eval (held-out clips)");
  }, 120_000);
});
