// `npm run compile -- prune <run dir | model.onnx> [--ratio R | --macs N | --params N | --latency-ms MS [--runtime web|node]]
//   [--layer MATCH=RATIO]... [--granularity G] [--importance l1|bn|taylor] [--aggregate sum|mean|max]
//   [--taylor scores.json | --taylor-data DIR] [--config prune.json] [--keep-bn] [--out DIR]
//   [--finetune DATA_DIR [--epochs N] [--lr LR]]`
// Folds BN first (the compiler's passes) unless --keep-bn, prunes, checks the
// result against the zeroed original, writes model.onnx + manifest.json +
// prune-report.json (every group: producers, channels, kept, or why locked),
// then optionally fine-tunes it with distillation from the unpruned model
// (into DIR/finetuned). `pruneArtifact` is the same without the flags, for
// the stage runner (compile.json).
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { compiledManifest, readInputArtifact, writeArtifact } from "../artifact.ts";
import { CompileError, parseFlags } from "../errors.ts";
import { dropClassMap } from "../passes/expose-class-map.ts";
import { batchOne, decodeModel, defaultOpset, encodeModel, validateModel, type Model } from "../ir/index.ts";
import { COMPILE_PASSES, runPasses } from "../pipeline.ts";
import { zeroDropped } from "./apply.ts";
import type { PruneConfig, PruneConfigInput } from "./config.ts";
import { parsePruneConfig, prune, pruneToLatency, type PruneResult } from "./index.ts";
import { latencyOf, measureLatency, type Runtime } from "../measure/in-process.ts";
import { finetunePruned } from "./finetune.ts";
import { computeTaylorScores, readTaylorScores } from "./taylor.ts";
import { outputDifference } from "../testing/parity.ts";

export const PRUNE_USAGE = `usage: npm run compile -- prune <run dir | model.onnx> (--ratio R | --layer MATCH=RATIO ... | --macs N | --params N | --latency-ms MS [--runtime web|node])
         [--granularity G] [--importance l1|bn|taylor] [--aggregate sum|mean|max] [--taylor SCORES.json]
         [--taylor-data DATA_DIR] [--config PRUNE.json] [--keep-bn] [--out DIR] [--finetune DATA_DIR [--epochs N] [--lr LR]]`;

/** Largest |pruned - zeroed original| accepted; anything above is a pruner bug. */
const EXACTNESS_LIMIT = 1e-4;

export interface PruneCommandResult {
  readonly modelPath: string;
  readonly manifestPath: string;
  readonly reportPath: string;
  readonly result: PruneResult;
  /** The fine-tuned artifact's directory, with --finetune. */
  readonly finetuned?: string;
}

export async function pruneCommand(argv: string[], log: (line: string) => void): Promise<PruneCommandResult> {
  const { values, positionals } = parseFlags(
    argv,
    {
      out: { type: "string" },
      ratio: { type: "string" },
      layer: { type: "string", multiple: true },
      macs: { type: "string" },
      params: { type: "string" },
      "latency-ms": { type: "string" },
      granularity: { type: "string" },
      importance: { type: "string" },
      aggregate: { type: "string" },
      taylor: { type: "string" },
      config: { type: "string" },
      "taylor-data": { type: "string" },
      "keep-bn": { type: "boolean" },
      finetune: { type: "string" },
      epochs: { type: "string" },
      lr: { type: "string" },
      runtime: { type: "string" },
    },
    PRUNE_USAGE,
  );
  if (positionals.length !== 1) throw new CompileError(`prune takes one run dir or model.onnx\n${PRUNE_USAGE}`);
  const config = await configFrom({ ...values, ...(values["taylor-data"] && { importance: "taylor" }) });
  const runtime = values.runtime ?? "web";
  if (runtime !== "node" && runtime !== "web") throw new CompileError(`--runtime: "${runtime}" is not node or web\n${PRUNE_USAGE}`);
  const epochs = values.epochs === undefined ? undefined : Number(values.epochs);
  if (epochs !== undefined && !(Number.isInteger(epochs) && epochs >= 1)) throw new CompileError(`--epochs: "${values.epochs}" is not a whole number >= 1`);
  const lr = values.lr === undefined ? undefined : Number(values.lr);
  if (lr !== undefined && !(lr > 0)) throw new CompileError(`--lr: "${values.lr}" is not a positive number`);
  return pruneArtifact(positionals[0], config, {
    out: values.out,
    keepBn: values["keep-bn"],
    taylorFile: values.taylor,
    taylorData: values["taylor-data"],
    runtime,
    ...(values.finetune && { finetune: { data: values.finetune, epochs, lr } }),
    log,
  });
}

export interface PruneArtifactOptions {
  /** Output directory; default `<input dir>/pruned`. */
  readonly out?: string;
  /** Prune the graph as it is instead of after the compiler's passes (BN folding). */
  readonly keepBn?: boolean;
  /** Taylor scores: a scores.json, or a dataset to compute them on with the engine. */
  readonly taylorFile?: string;
  readonly taylorData?: string;
  /** Where latency budgets are measured. */
  readonly runtime?: Runtime;
  /** Fine-tune the pruned model (distilling from the input model) into `<out>/finetuned`. */
  readonly finetune?: { readonly data: string; readonly epochs?: number; readonly lr?: number };
  readonly log?: (line: string) => void;
}

/** Prunes a run dir or model.onnx (with its manifest) into an artifact: the CLI's and the stage runner's entry. */
export async function pruneArtifact(inputPath: string, config: PruneConfig, opts: PruneArtifactOptions = {}): Promise<PruneCommandResult> {
  const log = opts.log ?? (() => {});
  const read = await readInputArtifact(inputPath);
  const outDir = opts.out ?? join(read.dir, "pruned");
  const { model: original, manifest: logitsManifest, dropped } = dropClassMap(decodeModel(read.modelBytes, read.modelPath), read.manifest);
  if (dropped) log(`prune: left out the class map %${dropped} (npm run compile -- OUT --explain adds it back)`);
  const input = { ...read, manifest: logitsManifest };
  const { graph: folded, records } = opts.keepBn ? { graph: original.graph, records: [] } : runPasses(original.graph, COMPILE_PASSES, log);
  const model: Model = { ...original, graph: folded };
  let taylor = opts.taylorFile ? await readTaylorScores(opts.taylorFile) : undefined;
  if (opts.taylorData) {
    log(`taylor: scoring channels with the training engine on ${opts.taylorData}`);
    taylor = await computeTaylorScores({ model, manifestPath: input.manifestPath, data: opts.taylorData });
  }
  const options = { teacher: original.graph, ...(taylor && { taylor }) };
  let result: PruneResult;
  if (config.budget && "latencyMs" in config.budget) {
    const runtime = opts.runtime ?? "web";
    const baseline = await measureLatency(model, { runtime });
    log(`latency before pruning: ${baseline.toFixed(2)} ms (onnxruntime-${runtime}, 1 thread)`);
    result = await pruneToLatency(model.graph, config, latencyOf(model, { runtime }), { ...options, log });
  } else {
    result = prune(model.graph, config, options);
  }
  log(`prune: ${result.summary}`);
  for (const g of result.groups) {
    const state = g.locked ? `locked: ${g.locked}` : `${g.channels} -> ${g.kept}`;
    log(`  ${g.producers.join(", ")}: ${state}`);
  }

  const pruned: Model = { ...model, graph: result.graph, producerName: "edgevid-compiler", producerVersion: "" };
  validateModel(pruned, "pruned model");
  const exact = await outputDifference(batchOne({ ...model, graph: zeroDropped(model.graph, result.analysis, result.keep) }), batchOne(pruned));
  log(`exactness: max |pruned - zeroed original| ${exact.toExponential(2)} (limit ${EXACTNESS_LIMIT})`);
  if (!(exact <= EXACTNESS_LIMIT)) throw new CompileError(`${input.modelPath}: pruned model differs from the zeroed original by ${exact}; this is a pruner bug`);

  const bytes = encodeModel(pruned);
  const manifest = compiledManifest({
    parent: input.manifest,
    modelBytes: bytes,
    opset: defaultOpset(pruned)!,
    passes: [...records, { name: "prune", params: { ...config }, summary: result.summary }],
    createdAt: new Date(),
    source: join(outDir, "manifest.json"),
  });
  const written = await writeArtifact(outDir, bytes, manifest);
  const reportPath = join(outDir, "prune-report.json");
  await writeFile(reportPath, `${JSON.stringify({ config, before: result.before, after: result.after, groups: result.groups }, null, 2)}\n`);
  log(`wrote ${written.modelPath} (${bytes.length} bytes), ${written.manifestPath} and ${reportPath}`);
  if (!opts.finetune) return { ...written, reportPath, result };

  const finetuned = join(outDir, "finetuned");
  log(`finetune: distilling from ${input.modelPath} on ${opts.finetune.data} -> ${finetuned}`);
  const done = await finetunePruned({
    model: { onnx: written.modelPath, manifest: written.manifestPath },
    teacher: { onnx: input.modelPath, manifest: input.manifestPath },
    data: opts.finetune.data,
    out: finetuned,
    epochs: opts.finetune.epochs,
    lr: opts.finetune.lr,
    log,
  });
  log(`finetune: ${JSON.stringify(done.metrics)}`);
  return { ...written, reportPath, result, finetuned };
}

type Flags = Record<string, string | string[] | boolean | undefined>;

/** The config file (if any) with the flags on top, validated. */
async function configFrom(values: Flags): Promise<ReturnType<typeof parsePruneConfig>> {
  const source = typeof values.config === "string" ? values.config : "flags";
  let base: Record<string, unknown> = {};
  if (typeof values.config === "string") {
    try {
      base = JSON.parse(await readFile(values.config, "utf8"));
    } catch (e) {
      throw new CompileError(`${values.config}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`);
    }
  }
  const number = (flag: string) => {
    const v = values[flag];
    if (typeof v !== "string") return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new CompileError(`--${flag}: "${v}" is not a number\n${PRUNE_USAGE}`);
    return n;
  };
  const layers = (values.layer as string[] | undefined)?.map((spec) => {
    const at = spec.lastIndexOf("=");
    const ratio = Number(spec.slice(at + 1));
    if (at < 1 || !Number.isFinite(ratio)) throw new CompileError(`--layer: "${spec}" is not MATCH=RATIO\n${PRUNE_USAGE}`);
    return { match: spec.slice(0, at), ratio };
  });
  const budgets = [["macs", number("macs")], ["params", number("params")], ["latencyMs", number("latency-ms")]].filter(([, v]) => v !== undefined);
  if (budgets.length > 1) throw new CompileError(`give one budget (--macs, --params or --latency-ms)\n${PRUNE_USAGE}`);
  const config: PruneConfigInput = {
    ...base,
    ...(number("ratio") !== undefined && { ratio: number("ratio") }),
    ...(layers && { layers }),
    ...(budgets.length === 1 && { budget: Object.fromEntries(budgets) as PruneConfigInput["budget"] }),
    ...(number("granularity") !== undefined && { granularity: number("granularity") }),
    ...(typeof values.importance === "string" && { importance: values.importance as PruneConfigInput["importance"] }),
    ...(typeof values.aggregate === "string" && { aggregate: values.aggregate as PruneConfigInput["aggregate"] }),
  };
  return parsePruneConfig(config, source);
}
