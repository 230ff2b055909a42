// The staged compile on a real tiny teacher: choose a student for a MACs
// budget, distill it (1 epoch, one thread), optimize, prune, fine-tune; a
// second run finds every stage in the cache; an accuracy budget stops it.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parseManifestJson } from "../../contract/manifest.ts";
import { REPO_ROOT } from "../../training/python.ts";
import { sha256Hex } from "../artifact.ts";
import { CompileError } from "../errors.ts";
import { COMPILE_PASSES } from "../pipeline.ts";
import { parseCompileConfig, type CompileConfig } from "./config.ts";
import { checkAccuracy, runStages } from "./run.ts";
import { tinyTeacher, type TinyTeacher } from "./tiny-teacher.ts";

let fixture: TinyTeacher;
let work: string;
beforeAll(async () => {
  fixture = await tinyTeacher();
  work = await mkdtemp(join(tmpdir(), "edgevid-stages-"));
}, 600_000);

function npmCompile(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) =>
    execFile("npm", ["run", "-s", "compile", "--", ...args], { cwd: REPO_ROOT, maxBuffer: 16 << 20 }, (error, stdout, stderr) =>
      done({ code: error ? Number(error.code) : 0, stdout, stderr }),
    ),
  );
}

const TRAIN = { epochs: 1, batchSize: 4, threads: 1 };
function compileJson(extra: object = {}) {
  return {
    data: { dir: fixture.data },
    student: {
      budget: { macs: 2_000_000 },
      grid: { widthFactor: [0.25, 0.5], depthFactor: [1], frames: [4, 8], crop: [32, 64], headDimOut: [32] },
    },
    distill: { ...TRAIN, alpha: 0.7, temperature: 4 },
    prune: { ratio: 0.25, granularity: 2 },
    finetune: TRAIN,
    cache: join(work, "cache"),
    ...extra,
  };
}

describe("runStages", () => {
  it("student -> distill -> optimize -> prune -> finetune, then every stage from the cache", async () => {
    const config = parseCompileConfig(compileJson(), join(work, "compile.json"));
    const lines: string[] = [];
    const first = await runStages(fixture.run, config, { out: join(work, "out"), log: (l) => lines.push(l) });
    console.log(lines.join("\n"));
    expect(first.stages.map((s) => [s.name, s.cached])).toEqual([["student", false], ["distill", false], ["optimize", false], ["prune", false], ["finetune", false]]);
    // The table of candidates considered, the chosen one under the budget.
    const chosen = first.stages[0].record.student!.chosen;
    expect(chosen.macs).toBeLessThanOrEqual(2_000_000);
    expect(lines).toContainEqual(expect.stringMatching(/^\s+width\s+depth\s+frames\s+crop\s+head\s+MACs\s+params/));
    expect(first.stages[1].record.top1).toBeTypeOf("number");

    const modelBytes = await readFile(first.modelPath);
    const manifest = parseManifestJson(await readFile(first.manifestPath, "utf8"), first.manifestPath);
    expect(manifest.model.sha256).toBe(sha256Hex(modelBytes));
    expect(manifest.input).toMatchObject({ frames: chosen.frames, cropSize: chosen.crop });
    expect(manifest.provenance.passes.map((p) => p.name)).toEqual(["student", "distill", ...COMPILE_PASSES.map((p) => p.name), "prune", "finetune"]);
    expect(manifest.provenance.passes[0].params).toMatchObject({ budget: { macs: 2_000_000 }, macs: chosen.macs });
    expect(manifest.provenance.passes[1].params).toMatchObject({ alpha: 0.7, temperature: 4, teacher: { id: "tiny-teacher", version: "1" } });
    const distilled = parseManifestJson(await readFile(join(first.stages[1].dir, "manifest.json"), "utf8"), "distilled");
    const teacher = parseManifestJson(await readFile(join(fixture.run, "manifest.json"), "utf8"), "teacher");
    expect(distilled.provenance.parent).toEqual({ id: "tiny-teacher", version: "1", sha256: teacher.model.sha256 });

    const again: string[] = [];
    const second = await runStages(fixture.run, config, { out: join(work, "out2"), log: (l) => again.push(l) });
    const time = (r: typeof first) => r.stages.reduce((t, s) => t + s.seconds, 0);
    console.log(`first run ${time(first).toFixed(1)} s, second run ${(1000 * time(second)).toFixed(0)} ms (all cached)\n${again.join("\n")}`);
    expect(second.stages.every((s) => s.cached)).toBe(true);
    expect(again.filter((l) => /^ {2}cached: /.test(l))).toHaveLength(5);
    expect(await readFile(second.modelPath)).toEqual(modelBytes);
    expect(time(second)).toBeLessThan(time(first) / 5);

    // The CLI in a new process: the same compile.json finds every stage in the cache.
    const path = join(work, "compile.json");
    await writeFile(path, JSON.stringify(compileJson()));
    const started = performance.now();
    const cli = await npmCompile(fixture.run, "--config", path, "--out", join(work, "out-cli"));
    console.log(`npm run compile (all cached): ${((performance.now() - started) / 1000).toFixed(1)} s including npm and tsx start-up`);
    expect(cli.code).toBe(0);
    expect(cli.stderr.match(/^ {2}cached: /gm)).toHaveLength(5);
    expect(await readFile(join(work, "out-cli", "model.onnx"))).toEqual(modelBytes);
  }, 600_000);

  it("stops when a stage breaks the accuracy budget, with the message", async () => {
    // Same stages as above (cached): the 1-epoch student is far from 99% top-1.
    const config = parseCompileConfig(compileJson({ accuracyBudget: { minTop1: 0.99 } }), join(work, "compile.json"));
    const lines: string[] = [];
    const run = runStages(fixture.run, config, { out: join(work, "out3"), log: (l) => lines.push(l) });
    await expect(run).rejects.toThrow(CompileError);
    await expect(run).rejects.toThrow(/^distill: val top-1 \d+\.\d% is below accuracyBudget\.minTop1 0\.99 \(99\.0%\); stopped\. The stage's model is in .*distill-[0-9a-f]{16}/);
    expect(lines.filter((l) => l.startsWith("["))).toEqual(["[1/5] student", "[2/5] distill"]);
  }, 600_000);

  it("maxTop1Drop: a drop beyond it stops, one within it passes", () => {
    const config: Pick<CompileConfig, "accuracyBudget"> = { accuracyBudget: { maxTop1Drop: 0.02 } };
    expect(() => checkAccuracy("distill", { summary: "", top1: 0.9 }, 0.95, config, "/c/d")).toThrow(
      "distill: val top-1 90.0% is 5.0 points below the teacher's 95.0%, over accuracyBudget.maxTop1Drop 0.02 (2.0 points); stopped. The stage's model is in /c/d",
    );
    expect(() => checkAccuracy("finetune", { summary: "", top1: 0.94 }, 0.95, config, "/c/d")).not.toThrow();
    expect(() => checkAccuracy("prune", { summary: "" }, 0.95, config, "/c/d")).not.toThrow();
  });
});

describe("a teacher of another architecture", () => {
  it("a tiny MViT teacher: the student is chosen within its clip and distilled from it", async () => {
    const mvit = await tinyTeacher("mvit_v2_s");
    const config = parseCompileConfig(
      {
        data: { dir: mvit.data },
        student: { budget: { params: 40_000 }, grid: { widthFactor: [0.25, 0.5], depthFactor: [1], frames: [4, 16], crop: [32], headDimOut: [32] } },
        distill: TRAIN,
        optimize: false,
        cache: join(work, "cache-mvit"),
      },
      join(work, "mvit.json"),
    );
    const lines: string[] = [];
    const result = await runStages(mvit.run, config, { out: join(work, "out-mvit"), log: (l) => lines.push(l) });
    console.log(lines.join("\n"));
    const teacher = parseManifestJson(await readFile(join(mvit.run, "manifest.json"), "utf8"), "teacher");
    expect(teacher.architecture).toMatch(/^mvit/);
    // 16 frames is more than the teacher's 8: left out.
    expect(result.stages[0].record.student!.considered.map((c) => c.frames)).not.toContain(16);
    const manifest = parseManifestJson(await readFile(result.manifestPath, "utf8"), "student");
    expect(manifest.provenance.parent).toEqual({ id: teacher.id, version: teacher.version, sha256: teacher.model.sha256 });
    expect(manifest.provenance.passes.map((p) => p.name)).toEqual(["student", "distill"]);
    expect(manifest.architecture).toMatch(/^x3d-s\(width_factor=0\.25,/);
  }, 600_000);
});

describe("compile.json", () => {
  const source = "/w/compile.json";
  const problem = (value: unknown) => {
    try {
      parseCompileConfig(value, source);
    } catch (e) {
      expect(e).toBeInstanceOf(CompileError);
      return (e as Error).message;
    }
    throw new Error("accepted");
  };

  it("bad configs: the file and each field named", () => {
    expect(problem({ prune: { ratio: 2 } })).toBe("/w/compile.json: prune.ratio: Too big: expected number to be <=0.99");
    expect(problem({ student: { budget: {} }, data: { dir: "d" } })).toBe("/w/compile.json: student.budget: give at least one of macs, params, bytes, latencyMs");
    expect(problem({ student: { budget: { macs: 1e6 } } })).toBe('/w/compile.json: data: student/distill trains on your videos: give data {"dir": ...}');
    expect(problem({ accuracyBudget: { maxTop1Drop: "2%" } })).toBe("/w/compile.json: accuracyBudget.maxTop1Drop: Invalid input: expected number, received string");
    expect(problem({ optimise: true })).toBe('/w/compile.json: (root): Unrecognized key: "optimise"');
    expect(problem({ student: { budget: { macs: 1e6 }, grid: { frames: [0] } }, data: { dir: "d" } })).toBe(
      "/w/compile.json: student.grid.frames.0: Too small: expected number to be >=1",
    );
  });

  it("relative paths start from compile.json's directory; the committed JSON Schema is current", async () => {
    const config = parseCompileConfig({ data: { dir: "videos" }, prune: { ratio: 0.5 }, out: "../o" }, source);
    expect([config.data, config.out, config.optimize]).toEqual([{ dir: "/w/videos" }, "/o", true]);
    const { compileConfigJsonSchema } = await import("./config.ts");
    const committed = JSON.parse(await readFile(new URL("./compile.schema.json", import.meta.url), "utf8"));
    expect(committed, "run: npm run -s compile -- schema > compiler/stages/compile.schema.json").toEqual(compileConfigJsonSchema());
  });

  it("npm run compile -- --config: a bad file is one line naming it", async () => {
    const path = join(await mkdtemp(join(tmpdir(), "edgevid-cfg-")), "compile.json");
    await writeFile(path, '{"prune": {"ratio": 0.5}, "finetune": {"epochs": "two"}}');
    const run = await npmCompile("/nowhere", "--config", path);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 1, stderr: `error: ${path}: finetune.epochs: Invalid input: expected number, received string\n` });
    await writeFile(path, "{oops");
    expect((await npmCompile("/nowhere", "--config", path)).stderr).toMatch(new RegExp(`^error: ${path}: not valid JSON: `));
    expect((await npmCompile("/nowhere", "--config", join(path, "..", "missing.json"))).stderr).toBe(`error: ${join(path, "..", "missing.json")}: no such file (the compile config)\n`);
  });
});
