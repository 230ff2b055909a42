// `npm run compile -- <run dir | model.onnx> --config compile.json`: runs the
// configured stages in order (student, distill, optimize, prune, finetune),
// each cached by content hash so a re-run skips what is done, and stops when a
// training stage loses more val top-1 than the accuracy budget allows.
import { copyFile, readFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { readInputArtifact, writeArtifact } from "../artifact.ts";
import { CompileError } from "../errors.ts";
import { parseManifest } from "../../contract/manifest.ts";
import { candidateTable } from "../student/select.ts";
import { codeVersion, contentKey, lookup, store } from "./cache.ts";
import type { CompileConfig } from "./config.ts";
import { quantizeStage } from "../quantize/stage.ts";
import { ReportSchema } from "../report/schema.ts";
import { writeReport } from "../report/write.ts";
import { distillStage, finetuneStage, optimizeStage, pct, pruneStage, studentStage, type Artifact, type Stage, type StageContext, type StageRecord } from "./stages.ts";

export interface StagesOptions {
  /** Output directory (default: compile.json's out, else <input dir>/compiled). */
  readonly out?: string;
  readonly id?: string;
  readonly version?: string;
  /** Progress lines (default: stderr). */
  readonly log?: (line: string) => void;
}

export interface StageRun {
  readonly name: string;
  readonly cached: boolean;
  readonly seconds: number;
  readonly record: StageRecord;
  readonly dir: string;
}

export interface StagesResult {
  readonly modelPath: string;
  readonly manifestPath: string;
  readonly stages: readonly StageRun[];
}

/** The stages compile.json asks for, in the order they run. */
export function plannedStages(config: CompileConfig): Stage[] {
  return [
    ...(config.student ? [studentStage, distillStage] : []),
    ...(config.optimize ? [optimizeStage] : []),
    ...(config.prune ? [pruneStage] : []),
    ...(config.finetune ? [finetuneStage] : []),
    ...(config.quantize ? [quantizeStage] : []),
  ];
}

export async function runStages(inputPath: string, config: CompileConfig, options: StagesOptions = {}): Promise<StagesResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const input = await readInputArtifact(inputPath);
  const out = resolve(options.out ?? config.out ?? join(input.dir, "compiled"));
  const cacheDir = config.cache ?? join(out, ".cache");
  const stages = plannedStages(config);
  if (stages.length === 0) throw new CompileError("compile.json: no stages to run (optimize is false and there is no student, prune or finetune)");

  const teacher: Artifact = { onnx: input.modelPath, manifest: input.manifestPath };
  let ctx: StageContext = { config, teacher, log };
  let current = teacher;
  let currentFiles: string[] = [];
  let baseline: number | undefined;
  const runs: StageRun[] = [];
  for (const [i, stage] of stages.entries()) {
    log(`[${i + 1}/${stages.length}] ${stage.name}`);
    const start = performance.now();
    const key = contentKey([stage.name, await readFile(current.onnx), codeVersion(stage.code), ...(await stage.key(ctx))]);
    const hit = await lookup<StageRecord>(cacheDir, stage.name, key);
    const entry = hit ?? (await store(cacheDir, stage.name, key, (dir) => stage.run(current, ctx, dir)));
    const seconds = (performance.now() - start) / 1000;
    const { record } = entry;
    if (record.student) log(candidateTable(record.student));
    log(`  ${hit ? "cached" : `done in ${seconds.toFixed(1)} s`}: ${record.summary}`);
    runs.push({ name: stage.name, cached: !!hit, seconds, record, dir: entry.dir });

    baseline ??= record.teacherTop1;
    checkAccuracy(stage.name, record, baseline, config, entry.dir);
    if (stage === pruneStage) ctx = { ...ctx, unpruned: current };
    if (record.student) ctx = { ...ctx, student: record.student.chosen };
    if (record.model) {
      current = { onnx: join(entry.dir, record.model.onnx), manifest: join(entry.dir, record.model.manifest) };
      currentFiles = (record.files ?? []).map((f) => join(entry.dir, f));
    }
  }

  const final = await readInputArtifact(current.onnx);
  const manifest = parseManifest({ ...final.manifest, id: options.id ?? config.id ?? final.manifest.id, version: options.version ?? config.version ?? final.manifest.version }, join(out, "manifest.json"));
  const written = await writeArtifact(out, final.modelBytes, manifest);
  for (const f of currentFiles) await copyFile(f, join(out, basename(f)));
  if (currentFiles.some((f) => basename(f) === "report.json")) {
    // The compile report names the shipped model: its id/version as given here.
    const report = ReportSchema.parse(JSON.parse(await readFile(join(out, "report.json"), "utf8")));
    await writeReport(out, { ...report, model: { id: manifest.id, version: manifest.version } });
  }
  log(`wrote ${written.modelPath} (${final.modelBytes.length} bytes) and ${written.manifestPath}; stages: ${runs.map((r) => `${r.name} ${r.cached ? "cached" : `${r.seconds.toFixed(1)} s`}`).join(", ")}`);
  return { ...written, stages: runs };
}

/** Throws CompileError when a training stage's val top-1 breaks the accuracy budget. */
export function checkAccuracy(stage: string, record: StageRecord, baseline: number | undefined, config: Pick<CompileConfig, "accuracyBudget">, dir: string): void {
  const budget = config.accuracyBudget;
  if (!budget || record.top1 === undefined) return;
  const advice = `The stage's model is in ${dir}; train longer, choose a bigger student, prune less, or loosen the budget`;
  const drop = baseline === undefined ? undefined : baseline - record.top1;
  if (budget.maxTop1Drop !== undefined && drop !== undefined && drop > budget.maxTop1Drop + 1e-9) {
    throw new CompileError(
      `${stage}: val top-1 ${pct(record.top1)} is ${(100 * drop).toFixed(1)} points below the teacher's ${pct(baseline)}, ` +
        `over accuracyBudget.maxTop1Drop ${budget.maxTop1Drop} (${(100 * budget.maxTop1Drop).toFixed(1)} points); stopped. ${advice}`,
    );
  }
  if (budget.minTop1 !== undefined && record.top1 < budget.minTop1 - 1e-9) {
    throw new CompileError(`${stage}: val top-1 ${pct(record.top1)} is below accuracyBudget.minTop1 ${budget.minTop1} (${pct(budget.minTop1)}); stopped. ${advice}`);
  }
}
