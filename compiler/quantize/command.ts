// `npm run compile -- quantize <run dir | model.onnx> --calib DIR [--eval DIR] [--method M] [--format F] ...`
// Folds BN (the compiler's passes), calibrates on DIR's clips, quantizes,
// checks the result against fp32 on the held-out clips (--eval), and writes
// model.onnx + manifest.json (quantize pass in provenance) + quantize-report.json.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { compiledManifest, readInputArtifact, writeArtifact } from "../artifact.ts";
import { CompileError, parseFlags } from "../errors.ts";
import { dropClassMap } from "../passes/expose-class-map.ts";
import { decodeModel, defaultOpset, encodeModel, validateModel, type Model } from "../ir/index.ts";
import { COMPILE_PASSES, runPasses } from "../pipeline.ts";
import { calibrate } from "./calibrate.ts";
import { readClips } from "./clips.ts";
import { guardedQuantize, type GuardOptions, type GuardReport } from "./guard.ts";
import { quantize, QuantizeOptions } from "./index.ts";

export const QUANTIZE_USAGE = `usage: npm run compile -- quantize <run dir | model.onnx> --calib DIR [--eval DIR] [--method minmax|percentile|entropy]
         [--percentile P] [--format qdq|qoperator|weight-only] [--activations uint8|int8] [--reduce-range]
         [--exclude NODE]... [--sensitivity] [--mixed] [--budget POINTS] [--out DIR]
       DIR: .npy float32 clips [N,C,T,H,W] or [C,T,H,W], normalized; labels.txt beside them: "<file> <label>[,...]"`;

export async function quantizeCommand(argv: string[], log: (line: string) => void): Promise<{ modelPath: string; reportPath: string; report?: GuardReport }> {
  const { values, positionals } = parseFlags(
    argv,
    {
      calib: { type: "string" },
      eval: { type: "string" },
      method: { type: "string" },
      percentile: { type: "string" },
      format: { type: "string" },
      activations: { type: "string" },
      "reduce-range": { type: "boolean" },
      exclude: { type: "string", multiple: true },
      sensitivity: { type: "boolean" },
      mixed: { type: "boolean" },
      budget: { type: "string" },
      out: { type: "string" },
    },
    QUANTIZE_USAGE,
  );
  if (positionals.length !== 1) throw new CompileError(`quantize takes one run dir or model.onnx\n${QUANTIZE_USAGE}`);
  if (!values.calib) throw new CompileError(`quantize needs --calib DIR (calibration clips)\n${QUANTIZE_USAGE}`);
  if ((values.sensitivity || values.mixed) && !values.eval) throw new CompileError("--sensitivity and --mixed need --eval DIR (held-out clips)");
  const budget = values.budget === undefined ? 1 : Number(values.budget);
  if (!(budget >= 0)) throw new CompileError(`--budget: "${values.budget}" is not a number of top-1 points >= 0`);
  const parsedOptions = QuantizeOptions.safeParse({
    ...(values.method && { method: values.method }),
    ...(values.percentile && { percentile: Number(values.percentile) }),
    ...(values.format && { format: values.format }),
    ...(values.activations && { activations: values.activations }),
    reduceRange: values["reduce-range"] ?? false,
    exclude: values.exclude ?? [],
  });
  if (!parsedOptions.success) {
    const issue = parsedOptions.error.issues[0];
    throw new CompileError(`--${String(issue.path[0])}: ${issue.message}\n${QUANTIZE_USAGE}`);
  }
  return quantizeArtifact(positionals[0], {
    calib: values.calib,
    ...(values.eval && { eval: values.eval }),
    options: parsedOptions.data,
    guard: { budget, sensitivity: values.sensitivity, mixed: values.mixed },
    ...(values.out && { out: values.out }),
    log,
  });
}

export interface QuantizeArtifactOptions {
  /** Directory of calibration clips (see clips.ts). */
  readonly calib: string;
  /** Directory of held-out clips: turns on the accuracy guard. */
  readonly eval?: string;
  readonly options: QuantizeOptions;
  readonly guard?: GuardOptions;
  /** Output directory; default `<input dir>/int8-<format>`. */
  readonly out?: string;
  readonly log?: (line: string) => void;
}

/** Quantizes a run dir or model.onnx (with its manifest) into an artifact: the CLI's entry, and a stage runner's. */
export async function quantizeArtifact(inputPath: string, opts: QuantizeArtifactOptions): Promise<{ modelPath: string; reportPath: string; report?: GuardReport }> {
  const log = opts.log ?? (() => {});
  const options = QuantizeOptions.parse(opts.options);
  const budget = opts.guard?.budget ?? 1;
  const read = await readInputArtifact(inputPath);
  const { model: original, manifest: logitsManifest, dropped } = dropClassMap(decodeModel(read.modelBytes, read.modelPath), read.manifest);
  if (dropped) log(`quantize: left out the class map %${dropped} (npm run compile -- OUT --explain adds it back)`);
  const input = { ...read, manifest: logitsManifest };
  const { graph, records } = runPasses(original.graph, COMPILE_PASSES, log);
  const model: Model = { ...original, graph };
  const initializers = new Set(graph.initializers.map((t) => t.name));
  const modelInput = graph.inputs.find((i) => !initializers.has(i.name));
  if (!modelInput?.type?.shape) throw new CompileError(`${input.modelPath}: no float input with a known shape to feed clips to`);
  const clipInput = { name: modelInput.name, shape: modelInput.type.shape };

  const calib = await readClips(opts.calib, clipInput, input.manifest.labels);
  log(`calibrating on ${calib.length} clips from ${opts.calib}`);
  const calibration = await calibrate(model, calib.map((c) => c.input));
  const held = opts.eval ? await readClips(opts.eval, clipInput, input.manifest.labels) : undefined;
  let result;
  let report: GuardReport | undefined;
  if (held) {
    ({ result, report } = await guardedQuantize(model, calibration, held, options, { ...opts.guard, budget }));
  } else {
    result = quantize(model, calibration, options);
  }
  log(`quantize: ${result.summary}`);
  if (report) logReport(report, log);

  validateModel(result.model, "quantized model");
  const bytes = encodeModel(result.model);
  const outDir = opts.out ?? join(input.dir, `int8-${options.format}`);
  const manifest = compiledManifest({
    parent: input.manifest,
    modelBytes: bytes,
    opset: defaultOpset(result.model) ?? 0,
    passes: [...records, { name: "quantize", params: { ...options, budget }, summary: result.summary }],
    createdAt: new Date(),
    source: "quantized manifest",
  });
  const { modelPath } = await writeArtifact(outDir, bytes, manifest);
  const reportPath = join(outDir, "quantize-report.json");
  const ranges = Object.fromEntries([...result.ranges].map(([k, r]) => [k, [r.min, r.max]]));
  await writeFile(reportPath, `${JSON.stringify({ options, summary: result.summary, bytes: { fp32: encodeModel(model).length, quantized: bytes.length }, guard: report, ranges }, null, 2)}\n`);
  log(`wrote ${modelPath} (${input.modelBytes.length} -> ${bytes.length} bytes) and ${reportPath}`);
  return { modelPath, reportPath, ...(report && { report }) };
}

function logReport(r: GuardReport, log: (line: string) => void): void {
  const fmt = (e: GuardReport["fp32"]) =>
    `${e.top1 === undefined ? "" : `top-1 ${e.top1.toFixed(2)}%, `}agreement ${e.agreement.toFixed(2)}%, max |Δlogit| ${e.maxAbsDelta.toFixed(4)}, mean |Δlogit| ${e.meanAbsDelta.toFixed(4)}`;
  log(`fp32 on ${r.fp32.clips} held-out clips: ${fmt(r.fp32)}`);
  log(`int8: ${fmt(r.candidate)}; top-1 drop ${r.top1Drop.toFixed(2)} points (budget ${r.budget})`);
  if (r.sensitivity) {
    log(`sensitivity: ${r.sensitivity.length} layers, each kept fp32 with all others int8; the 10 most harmful:`);
    for (const s of r.sensitivity.slice(0, 10)) {
      log(`  ${s.layer} (${s.op}) kept fp32: top-1 drop ${(r.top1Drop - s.top1Gain).toFixed(2)}, mean |Δlogit| ${r.candidate.meanAbsDelta.toFixed(4)} -> ${s.evaluation.meanAbsDelta.toFixed(4)}`);
    }
  }
  if (r.mixed) {
    log(`mixed precision: ${r.mixed.fp32Layers.length} layers fp32 [${r.mixed.fp32Layers.join(", ")}]: ${fmt(r.mixed.evaluation)}; ` +
      `top-1 drop ${r.mixed.top1Drop.toFixed(2)} ${r.mixed.withinBudget ? "within" : "NOT within"} budget ${r.budget}`);
  }
}
