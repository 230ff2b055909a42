// The engine bridge on real engine output: a tiny distill (tiny X3D teacher,
// 2 videos per class, 1 epoch, one thread) parsed into typed events; a config
// the engine refuses and a missing engine give clear errors.
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parseManifestJson } from "../contract/manifest.ts";
import { sha256Hex } from "./artifact.ts";
import { EngineError, runEngine, runTaylor, writeEngineConfig, type EngineEvent } from "./engine.ts";
import { tinyTeacher, type TinyTeacher } from "./stages/tiny-teacher.ts";

let fixture: TinyTeacher;
let work: string;
beforeAll(async () => {
  fixture = await tinyTeacher();
  work = await mkdtemp(join(tmpdir(), "edgevid-engine-"));
}, 600_000);

describe("runEngine", () => {
  it("runs a tiny distill and parses every event of the protocol", async () => {
    const config = join(work, "distill.json");
    await writeEngineConfig(config, {
      out: join(work, "student"),
      data: { dir: fixture.data },
      teacher: { onnx: join(fixture.run, "teacher.onnx"), manifest: join(fixture.run, "manifest.json") },
      student: { arch: "x3d", preset: "s", width_factor: 0.25, depth_factor: 1, head_dim_out: 32, frames: 4, crop: 32 },
      distillation: { alpha: 0.7, temperature: 4 },
      train: { epochs: 1, batchSize: 4, threads: 1, workers: 0 },
    });
    const events: EngineEvent[] = [];
    const lines: string[] = [];
    const result = await runEngine("distill", config, { onEvent: (e) => events.push(e), progress: (l) => lines.push(l) });
    console.log(lines.join("\n"));
    expect(events.map((e) => e.event).filter((e) => e !== "step")).toEqual(["start", "teacher", "epoch", "result"]);
    const start = events[0];
    expect(start.event === "start" && start.student).toMatchObject({ frames: 4, cropSize: 32 });
    expect(lines[0]).toMatch(/^ {2}distill: x3d-s\(width_factor=0\.25,.*\), [\d,]+ params, [\d,]+ MACs, 1 epochs$/);
    expect(lines).toContainEqual(expect.stringMatching(/^ {2}epoch 1\/1: loss \d+\.\d{3}, val top-1 \d+\.\d%, \d+\.\d s \*best$/));
    // The result points at real files: the ONNX's sha256 and the manifest's parent (the teacher).
    expect(sha256Hex(await readFile(result.outputs.onnx))).toBe(result.sha256);
    const manifest = parseManifestJson(await readFile(result.outputs.manifest, "utf8"), result.outputs.manifest);
    const teacher = parseManifestJson(await readFile(join(fixture.run, "manifest.json"), "utf8"), "teacher");
    expect(manifest.provenance.parent).toEqual({ id: "tiny-teacher", version: "1", sha256: teacher.model.sha256 });
    expect(result.metrics["teacher.val.top1"]).toBeTypeOf("number");
  }, 600_000);

  it("a config the engine refuses: its error event, named", async () => {
    const config = join(work, "bad.json");
    await writeEngineConfig(config, {
      out: join(work, "bad"),
      data: { dir: fixture.data },
      teacher: { onnx: join(fixture.run, "teacher.onnx"), manifest: join(fixture.run, "manifest.json") },
      student: { arch: "x3d", preset: "nope" },
    });
    const error = await runEngine("distill", config, { progress: () => {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngineError);
    expect(error).toMatchObject({ kind: "input" });
    expect((error as Error).message).toMatch(new RegExp(`^videotrain distill --config ${config}: the engine refused it: .*unknown preset 'nope' for x3d`));
  }, 120_000);

  it("taylor: its flags passed, a model that is not there refused as the user's input", async () => {
    const model = join(work, "no-model.onnx");
    const args = { model, manifest: join(fixture.run, "manifest.json"), data: fixture.data, out: join(work, "scores.json"), batches: 1 };
    const error = await runTaylor(args, { progress: () => {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngineError);
    expect(error).toMatchObject({ kind: "input" });
    expect((error as Error).message).toMatch(new RegExp(`^videotrain taylor --model ${model} --manifest .* --batches 1: the engine refused it: `));
  }, 120_000);

  it("a missing engine: the interpreter named", async () => {
    const missing = join(work, "no-python");
    const run = runEngine("distill", join(work, "bad.json"), { python: missing });
    await expect(run).rejects.toMatchObject({ kind: "missing" });
    await expect(run).rejects.toThrow(`the training engine is missing: could not run ${missing}`);
    // An interpreter without the videotrain package.
    await expect(runEngine("distill", join(work, "bad.json"), { python: "/usr/bin/python3" })).rejects.toThrow(
      /^the training engine is missing: \/usr\/bin\/python3 does not have the videotrain package/,
    );
  });
});
