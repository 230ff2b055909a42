// The compile stages. Each takes the current artifact (model.onnx +
// manifest.json on disk) and writes its own into a scratch directory the cache
// then keeps; `key` lists what its output depends on besides the input
// model's bytes (the runner adds those).
import { copyFile, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseManifest, parseManifestJson, type PassRecord } from "../../contract/manifest.ts";
import { compiledManifest, readInputArtifact, writeArtifact } from "../artifact.ts";
import { runEngine, writeEngineConfig, type DataSource, type EngineResult } from "../engine.ts";
import { CompileError } from "../errors.ts";
import { decodeModel, defaultOpset, encodeModel } from "../ir/index.ts";
import { dropClassMap } from "../passes/expose-class-map.ts";
import { compile } from "../pipeline.ts";
import { prune } from "../prune/index.ts";
import { chooseStudent, describe, type Considered } from "../student/select.ts";
import type { CompileConfig, TrainConfig } from "./config.ts";

/** A model on disk with its manifest. */
export interface Artifact {
  readonly onnx: string;
  readonly manifest: string;
}

export interface StageRecord {
  readonly summary: string;
  /** Files in the entry: the stage's model (absent for student selection). */
  readonly model?: { readonly onnx: string; readonly manifest: string };
  /** Val top-1 of the stage's model and of the teacher it was trained against (training stages). */
  readonly top1?: number;
  readonly teacherTop1?: number;
  readonly student?: { readonly chosen: Considered; readonly considered: readonly Considered[] };
  /** Files in the entry the output gets beside its model when this stage made the final model (the quantize stage's report). */
  readonly files?: readonly string[];
}

export interface StageContext {
  readonly config: CompileConfig;
  /** The model `npm run compile` was given. */
  readonly teacher: Artifact;
  /** The artifact that entered the prune stage: the fine-tune distills from it. */
  readonly unpruned?: Artifact;
  readonly student?: Considered;
  readonly log: (line: string) => void;
}

export interface Stage {
  readonly name: string;
  /** The code this stage runs (repo paths), hashed into its cache key. */
  readonly code: readonly string[];
  /** What else its output depends on (config, data lists, other models). */
  key(ctx: StageContext): Promise<(string | Uint8Array)[]>;
  run(input: Artifact, ctx: StageContext, dir: string): Promise<StageRecord>;
}

const ENGINE_CODE = ["compiler/engine.ts", "training/videotrain"];

async function dataLists(ctx: StageContext): Promise<string[]> {
  const data = ctx.config.data!;
  const files = "dir" in data ? ["train.txt", "val.txt", "labels.txt"].map((f) => join(data.dir, f)) : [data.trainList, data.valList, data.labels];
  return Promise.all(
    files.map((f) =>
      readFile(f, "utf8").catch(() => {
        throw new CompileError(`${f}: no such file (compile.json data)`);
      }),
    ),
  );
}

function trainSection(t: TrainConfig): Record<string, string | number> {
  const { alpha: _a, temperature: _t, ...train } = t;
  return { workers: 0, ...train };
}

function distillation(t: TrainConfig): { alpha?: number; temperature?: number } {
  return { ...(t.alpha !== undefined && { alpha: t.alpha }), ...(t.temperature !== undefined && { temperature: t.temperature }) };
}

/** The engine's output as a stage record: its files, its and its teacher's val top-1. */
function engineRecord(result: EngineResult, summary: string): StageRecord {
  return {
    summary,
    model: { onnx: "model.onnx", manifest: "manifest.json" },
    top1: result.metrics["val.top1"],
    teacherTop1: result.metrics["teacher.val.top1"],
  };
}

export const studentStage: Stage = {
  name: "student",
  code: ["compiler/student", "compiler/ir"],
  async key(ctx) {
    return [JSON.stringify(ctx.config.student)];
  },
  async run(input, ctx) {
    const manifest = parseManifestJson(await readFile(input.manifest, "utf8"), input.manifest);
    const choice = await chooseStudent(ctx.config.student!, { frames: manifest.input.frames, crop: manifest.input.cropSize, classes: manifest.labels.length }, ctx.log);
    return { summary: `${describe(choice.chosen)}: ${choice.chosen.macs.toLocaleString("en-US")} MACs, ${choice.chosen.params.toLocaleString("en-US")} params`, student: choice };
  },
};

export const distillStage: Stage = {
  name: "distill",
  code: ENGINE_CODE,
  async key(ctx) {
    return [JSON.stringify(ctx.student), JSON.stringify(ctx.config.distill), ...(await dataLists(ctx))];
  },
  async run(input, ctx, dir) {
    const s = ctx.student!;
    const t = ctx.config.distill;
    const configPath = join(dir, "engine-distill.json");
    await writeEngineConfig(configPath, {
      out: dir,
      data: ctx.config.data as DataSource,
      teacher: input,
      student: { arch: "x3d", preset: "s", width_factor: s.widthFactor, depth_factor: s.depthFactor, head_dim_out: s.headDimOut, frames: s.frames, crop: s.crop },
      distillation: distillation(t),
      train: trainSection(t),
    });
    let counted: number | undefined;
    const result = await runEngine("distill", configPath, { progress: ctx.log, onEvent: (e) => e.event === "start" && (counted = e.student?.macs) });
    // The candidate's graph predicted the student's cost: the engine's own count must agree.
    if (counted !== s.macs) throw new Error(`distill: the engine counts ${counted} MACs for ${describe(s)}, the compiler predicted ${s.macs}`);
    // The engine records the distill pass; the choice of student comes before it.
    const manifestPath = join(dir, "manifest.json");
    const manifest = parseManifestJson(await readFile(manifestPath, "utf8"), manifestPath);
    const selection: PassRecord = {
      name: "student",
      params: { budget: ctx.config.student!.budget, chosen: { widthFactor: s.widthFactor, depthFactor: s.depthFactor, frames: s.frames, crop: s.crop, headDimOut: s.headDimOut }, macs: s.macs, params: s.params, ...(s.latencyMs !== undefined && { latencyMs: s.latencyMs }) },
      summary: describe(s),
    };
    const passes = [selection, ...manifest.provenance.passes];
    await writeFile(manifestPath, `${JSON.stringify(parseManifest({ ...manifest, provenance: { ...manifest.provenance, passes } }, manifestPath), null, 2)}\n`);
    return engineRecord(result, `${describe(s)}: val top-1 ${pct(result.metrics["val.top1"])} (teacher ${pct(result.metrics["teacher.val.top1"])})`);
  },
};

export const optimizeStage: Stage = {
  name: "optimize",
  code: ["compiler/passes", "compiler/ir", "compiler/pipeline.ts", "compiler/artifact.ts"],
  async key() {
    return [];
  },
  async run(input, ctx, dir) {
    // compile's last line names the scratch directory, which the cache renames: leave it out.
    const result = await compile(input.onnx, { out: dir, log: (line) => line.startsWith("wrote ") || ctx.log(line) });
    return { summary: `parity ${result.parity.toExponential(2)}`, model: { onnx: "model.onnx", manifest: "manifest.json" } };
  },
};

export const pruneStage: Stage = {
  name: "prune",
  code: ["compiler/prune", "compiler/ir", "compiler/artifact.ts"],
  async key(ctx) {
    return [JSON.stringify(ctx.config.prune)];
  },
  async run(input, ctx, dir) {
    const config = ctx.config.prune!;
    if (config.budget && "latencyMs" in config.budget) {
      throw new CompileError("compile.json prune.budget.latencyMs: a latency budget is not available in the prune stage yet; use macs, params or ratios");
    }
    const read = await readInputArtifact(input.onnx);
    const { model, manifest: logitsManifest } = dropClassMap(decodeModel(read.modelBytes, read.modelPath), read.manifest);
    const artifact = { ...read, manifest: logitsManifest };
    const result = prune(model.graph, config);
    ctx.log(`  ${result.summary}`);
    const bytes = encodeModel({ ...model, graph: result.graph });
    const manifest = compiledManifest({
      parent: artifact.manifest,
      modelBytes: bytes,
      opset: defaultOpset(model)!,
      passes: [{ name: "prune", params: config as Record<string, unknown>, summary: result.summary }],
      createdAt: new Date(),
      source: join(dir, "manifest.json"),
    });
    await writeArtifact(dir, bytes, manifest);
    return { summary: result.summary, model: { onnx: "model.onnx", manifest: "manifest.json" } };
  },
};

export const finetuneStage: Stage = {
  name: "finetune",
  code: ENGINE_CODE,
  async key(ctx) {
    const teacher = ctx.unpruned ?? ctx.teacher;
    return [JSON.stringify(ctx.config.finetune), ...(await dataLists(ctx)), await readFile(teacher.onnx)];
  },
  async run(input, ctx, dir) {
    const t = ctx.config.finetune!;
    const configPath = join(dir, "engine-finetune.json");
    // The engine writes a new directory: give it one inside the entry, then lift its files up.
    const out = join(dir, "engine");
    await writeEngineConfig(configPath, {
      out,
      data: ctx.config.data as DataSource,
      model: input,
      teacher: ctx.unpruned ?? ctx.teacher,
      distillation: distillation(t),
      train: trainSection(t),
    });
    const result = await runEngine("finetune", configPath, { progress: ctx.log });
    for (const f of ["model.onnx", "manifest.json"]) await copyFile(join(out, f), join(dir, f));
    return engineRecord(result, `val top-1 ${pct(result.metrics["val.top1"])} (teacher ${pct(result.metrics["teacher.val.top1"])})`);
  },
};

export function pct(v: number | undefined): string {
  return v === undefined ? "n/a" : `${(100 * v).toFixed(1)}%`;
}
