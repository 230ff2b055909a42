// The bridge to the Python training engine (`videotrain finetune|distill
// --config FILE`, `videotrain taylor --model ...`,
// training/videotrain/engine/README.md): spawn it, parse its
// JSON-lines events into typed values, show progress on stderr, and turn its
// endings into clear errors. The interpreter is found like `npm run train`
// finds it (training/python.ts).
import { spawn } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { z } from "zod";
import { defaultPython, PythonMissing, REPO_ROOT } from "../training/python.ts";
import { CompileError } from "./errors.ts";

export type EngineCommand = "finetune" | "distill";

const score = z.number().nullable();
const Val = z.object({ top1: score, top5: score, loss: score }).loose();

export const StartEvent = z
  .object({
    event: z.literal("start"),
    protocol: z.literal(1),
    command: z.enum(["finetune", "distill", "taylor"]),
    // finetune and distill:
    out: z.string().optional(),
    epochs: z.number().int().optional(),
    // taylor:
    batches: z.number().int().optional(),
    student: z.object({ architecture: z.string(), params: z.number(), macs: z.number(), frames: z.number(), cropSize: z.number() }).optional(),
  })
  .loose();
export const TeacherEvent = z.object({ event: z.literal("teacher"), val: Val }).loose();
export const StepEvent = z.object({ event: z.literal("step"), epoch: z.number(), step: z.number(), of: z.number(), loss: score }).loose();
export const EpochEvent = z
  .object({ event: z.literal("epoch"), epoch: z.number(), of: z.number(), loss: score, val: Val, seconds: z.number(), best: z.boolean() })
  .loose();
export const ResultEvent = z
  .object({
    event: z.literal("result"),
    ok: z.literal(true),
    command: z.enum(["finetune", "distill"]),
    outputs: z.object({ dir: z.string(), onnx: z.string(), manifest: z.string() }).loose(),
    metrics: z.record(z.string(), z.number()),
    bestEpoch: z.number().int(),
    sha256: z.string(),
  })
  .loose();
export const TaylorResultEvent = z
  .object({
    event: z.literal("result"),
    ok: z.literal(true),
    command: z.literal("taylor"),
    outputs: z.object({ scores: z.string() }).loose(),
    values: z.number().int(),
    clips: z.number().int(),
  })
  .loose();
export const ErrorEvent = z
  .object({ event: z.literal("error"), ok: z.literal(false), kind: z.enum(["input", "internal", "interrupted"]), message: z.string() })
  .loose();
export const EngineEvent = z.discriminatedUnion("event", [
  StartEvent,
  TeacherEvent,
  StepEvent,
  EpochEvent,
  z.discriminatedUnion("command", [ResultEvent, TaylorResultEvent]),
  ErrorEvent,
]);
export type EngineEvent = z.infer<typeof EngineEvent>;
export type EngineResult = z.infer<typeof ResultEvent>;
export type TaylorResult = z.infer<typeof TaylorResultEvent>;

/** The engine's config (config.schema.json); the engine validates it, these types only help callers. */
export interface EngineConfig {
  readonly out: string;
  readonly data: DataSource;
  readonly model?: ModelSource;
  readonly teacher?: ModelSource;
  readonly student?: Readonly<Record<string, string | number>>;
  readonly distillation?: { readonly alpha?: number; readonly temperature?: number };
  readonly train?: Readonly<Record<string, string | number>>;
  readonly id?: string;
  readonly version?: string;
}
export type DataSource = { readonly dir: string } | { readonly trainList: string; readonly valList: string; readonly labels: string; readonly root?: string };
export type ModelSource = { readonly onnx: string; readonly manifest: string } | { readonly run: string };

/** A failure of the engine run; `kind` says whose it is (the engine's error event kinds, plus "missing" and "protocol"). */
export class EngineError extends CompileError {
  override name = "EngineError";
  constructor(
    message: string,
    readonly kind: "missing" | "input" | "internal" | "interrupted" | "protocol",
  ) {
    super(message);
  }
}

export interface EngineOptions {
  /** Every parsed event, in order. */
  readonly onEvent?: (event: EngineEvent) => void;
  /** Progress lines (default: stderr). */
  readonly progress?: (line: string) => void;
  /** The interpreter (default: EDGEVID_PYTHON or the .venv). */
  readonly python?: string;
}

/** One progress line for an event (steps and starts included), or nothing. */
export function describeEvent(e: EngineEvent): string | undefined {
  const pct = (v: number | null) => (v === null ? "n/a" : `${(100 * v).toFixed(1)}%`);
  const num = (v: number | null) => (v === null ? "n/a" : v.toFixed(3));
  switch (e.event) {
    case "start":
      if (e.command === "taylor") return `  taylor: ${e.batches ?? "?"} batches`;
      return e.student
        ? `  ${e.command}: ${e.student.architecture}, ${e.student.params.toLocaleString("en-US")} params, ${e.student.macs.toLocaleString("en-US")} MACs, ${e.epochs} epochs`
        : `  ${e.command}: ${e.epochs} epochs`;
    case "teacher":
      return `  teacher val top-1 ${pct(e.val.top1)}`;
    case "step":
      return `  epoch ${e.epoch} step ${e.step}/${e.of} loss ${num(e.loss)}`;
    case "epoch":
      return `  epoch ${e.epoch}/${e.of}: loss ${num(e.loss)}, val top-1 ${pct(e.val.top1)}, ${e.seconds.toFixed(1)} s${e.best ? " *best" : ""}`;
    case "result":
      if (e.command === "taylor") return `  done: ${e.values} values scored on ${e.clips} clips`;
      return `  done: val top-1 ${pct(e.metrics["val.top1"] ?? null)} (best epoch ${e.bestEpoch})`;
    case "error":
      return undefined;
  }
}

/** Writes `config` as JSON at `path` (directories made). */
export async function writeEngineConfig(path: string, config: EngineConfig): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(config, null, 2)}\n`);
}

/** Runs `videotrain <command> --config <configPath>`; resolves with the result event, or throws EngineError. */
export async function runEngine(command: EngineCommand, configPath: string, options: EngineOptions = {}): Promise<EngineResult> {
  const result = await runVideotrain([command, "--config", configPath], options);
  if (result.command !== command) throw new EngineError(`videotrain ${command} --config ${configPath}: a result event of ${result.command}`, "protocol");
  return result as EngineResult;
}

/** `videotrain taylor`'s arguments (the engine's defaults when absent); paths as the engine's working directory (the repo root) sees them. */
export interface TaylorArgs {
  readonly model: string;
  readonly manifest: string;
  readonly data: string;
  readonly out: string;
  readonly batches?: number;
  readonly batchSize?: number;
  readonly threads?: number;
  readonly seed?: number;
}

/** Runs `videotrain taylor` (per-channel Taylor importance into `args.out`); resolves with the result event, or throws EngineError. */
export async function runTaylor(args: TaylorArgs, options: EngineOptions = {}): Promise<TaylorResult> {
  const flags: [string, string | number | undefined][] = [
    ["--model", args.model], ["--manifest", args.manifest], ["--data", args.data], ["--out", args.out],
    ["--batches", args.batches], ["--batch-size", args.batchSize], ["--threads", args.threads], ["--seed", args.seed],
  ];
  const result = await runVideotrain(["taylor", ...flags.flatMap(([flag, v]) => (v === undefined ? [] : [flag, String(v)]))], options);
  if (result.command !== "taylor") throw new EngineError(`videotrain taylor: a result event of ${result.command}`, "protocol");
  return result;
}

/** Runs `videotrain <argv> --quiet`; resolves with the result event, or throws EngineError. */
async function runVideotrain(argv: readonly string[], options: EngineOptions): Promise<EngineResult | TaylorResult> {
  let python: string;
  try {
    python = options.python ?? defaultPython();
  } catch (e) {
    if (e instanceof PythonMissing) throw new EngineError(`the training engine is missing: ${e.message}`, "missing");
    throw e;
  }
  const progress = options.progress ?? ((line: string) => process.stderr.write(`${line}\n`));
  // Threads: the config's train.threads (the engine's default: all cores).
  const child = spawn(python, ["-m", "videotrain", ...argv, "--quiet"], {
    cwd: REPO_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, PYTHONUNBUFFERED: "1" },
  });
  const events: EngineEvent[] = [];
  let stderr = "";
  let protocolProblem: string | undefined;
  let pending = "";
  const onLine = (line: string) => {
    if (!line.trim() || protocolProblem) return;
    let event: EngineEvent;
    try {
      event = EngineEvent.parse(JSON.parse(line));
    } catch (e) {
      protocolProblem = `unreadable event line ${JSON.stringify(line.slice(0, 200))}: ${e instanceof z.ZodError ? z.prettifyError(e) : (e as Error).message}`;
      return;
    }
    events.push(event);
    const text = describeEvent(event);
    if (text) progress(text);
    options.onEvent?.(event);
  };
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    const lines = (pending + chunk).split("\n");
    pending = lines.pop()!;
    lines.forEach(onLine);
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr = (stderr + chunk).slice(-20_000)));
  const code = await new Promise<number | null>((done, fail) => {
    child.on("error", (e) =>
      fail(new EngineError(`the training engine is missing: could not run ${python}: ${e.message} (npm run setup:python, or set EDGEVID_PYTHON)`, "missing")),
    );
    child.on("close", (c) => done(c));
  });
  onLine(pending);
  const what = `videotrain ${argv.join(" ")}`;
  const tail = stderr.trim().split("\n").slice(-15).join("\n");
  if (protocolProblem) throw new EngineError(`${what}: ${protocolProblem}`, "protocol");
  const last = events.at(-1);
  if (last?.event === "result" && code === 0) return last;
  if (last?.event === "error") {
    if (last.kind === "input") throw new EngineError(`${what}: the engine refused it: ${last.message}`, "input");
    if (last.kind === "interrupted") throw new EngineError(`${what}: interrupted`, "interrupted");
    throw new EngineError(`${what}: training failed: ${last.message}${tail ? `\n${tail}` : ""}`, "internal");
  }
  if (/No module named '?videotrain/.test(stderr)) {
    throw new EngineError(`the training engine is missing: ${python} does not have the videotrain package (npm run setup:python, or pip install -e training)`, "missing");
  }
  throw new EngineError(`${what}: exited with ${code} without a result or error event${tail ? `:\n${tail}` : ""}`, "protocol");
}
