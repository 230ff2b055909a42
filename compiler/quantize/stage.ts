// The "quantize" compile stage, last. Without "candidates": quantizeArtifact
// on the current artifact in the one configured format. With "candidates":
// chooseQuantized (candidates.ts) builds, evaluates and measures each form and
// ships the choice, with report.json + report.html beside it and the decision
// in the manifest (a "quantize" pass whose params/summary hold the choice and
// its reasons; metrics: held-out top-1, latencies, peak wasm memory).
// Cached on compile.json's quantize section and the clips' bytes.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { compiledManifest, readInputArtifact, writeArtifact } from "../artifact.ts";
import { CompileError } from "../errors.ts";
import { decodeModel, defaultOpset, validateModel, type Model } from "../ir/index.ts";
import { COMPILE_PASSES, runPasses } from "../pipeline.ts";
import { writeReport } from "../report/write.ts";
import type { Artifact, Stage, StageContext, StageRecord } from "../stages/stages.ts";
import { chooseQuantized, choiceReport, chosenMetrics } from "./candidates.ts";
import { readClips } from "./clips.ts";
import { quantizeArtifact } from "./command.ts";

async function clipBytes(dir: string | undefined): Promise<Uint8Array[]> {
  if (!dir) return [];
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith(".npy") || f === "labels.txt").sort();
  return Promise.all(files.map(async (f) => new Uint8Array(await readFile(join(dir, f)))));
}

/** Report files the stage leaves beside its model; the stage runner copies them to the output. */
export const REPORT_FILES = ["report.json", "report.html"] as const;

async function chooseStage(input: Artifact, ctx: StageContext, dir: string): Promise<StageRecord> {
  const q = ctx.config.quantize!;
  const artifact = await readInputArtifact(input.onnx);
  const original = decodeModel(artifact.modelBytes, artifact.modelPath);
  const { graph, records } = runPasses(original.graph, COMPILE_PASSES, () => {});
  const fp32: Model = { ...original, graph };
  const initializers = new Set(graph.initializers.map((t) => t.name));
  const modelInput = graph.inputs.find((i) => !initializers.has(i.name));
  if (!modelInput?.type?.shape) throw new CompileError(`${artifact.modelPath}: no float input with a known shape to feed clips to`);
  const clipInput = { name: modelInput.name, shape: modelInput.type.shape };
  const calibration = await readClips(q.calib, clipInput, artifact.manifest.labels);
  const heldOut = await readClips(q.eval!, clipInput, artifact.manifest.labels);
  ctx.log(`  calibration: ${calibration.length} clips; held-out: ${heldOut.length} clips; candidates: ${q.candidates!.join(", ")}`);

  const result = await chooseQuantized(fp32, {
    calibration,
    heldOut,
    candidates: q.candidates,
    budget: q.budget,
    ...(q.choose !== undefined && { choose: q.choose }),
    rounds: q.rounds,
    nodeThreads: q.nodeThreads,
    work: join(dir, "candidates"),
    log: (line) => ctx.log(`  ${line}`),
  });
  const { chosen, decision } = result;
  for (const c of result.candidates) {
    ctx.log(`  ${c.name}: top-1 ${(100 * c.top1).toFixed(1)}%, ${c.bytes.length} bytes, web ${c.measurement.web?.timing.medianMs.toFixed(2)} ms, node ${c.measurement.node?.timing.medianMs.toFixed(2)} ms`);
  }
  ctx.log(`  choice: ${decision.chosen}: ${decision.reasons.join("; ")}`);

  const chosenModel = decodeModel(chosen.bytes, chosen.name);
  validateModel(chosenModel, `quantize candidate ${chosen.name}`);
  const summary = `chose ${chosen.name} (${chosen.kind})${decision.forced ? ", forced" : ""}: ${decision.reasons.join("; ")}`;
  const manifest = compiledManifest({
    parent: artifact.manifest,
    modelBytes: chosen.bytes,
    opset: defaultOpset(chosenModel) ?? artifact.manifest.model.opset,
    passes: [
      ...records,
      {
        name: "quantize",
        params: {
          candidates: result.candidates.map((c) => c.name),
          chosen: chosen.name,
          kind: chosen.kind,
          forced: decision.forced,
          budget: result.budget,
          rounds: q.rounds,
          nodeThreads: q.nodeThreads,
          verdicts: decision.verdicts.map((v) => ({ ...v })),
        },
        summary: `${summary}${chosen.kind === "fp32" ? "" : `; ${chosen.summary}`}`,
      },
    ],
    metrics: chosenMetrics(result),
    createdAt: new Date(),
    source: "quantized manifest",
  });
  await writeArtifact(dir, chosen.bytes, manifest);
  await writeReport(dir, choiceReport(result, { model: { id: manifest.id, version: manifest.version }, heldOutSource: q.eval! }));
  return { summary, model: { onnx: "model.onnx", manifest: "manifest.json" }, files: [...REPORT_FILES] };
}

export const quantizeStage: Stage = {
  name: "quantize",
  code: ["compiler/quantize", "compiler/ir", "compiler/passes", "compiler/artifact.ts", "compiler/measure", "compiler/select.ts", "compiler/report"],
  async key(ctx) {
    const q = ctx.config.quantize!;
    return [JSON.stringify(q), ...(await clipBytes(q.calib)), ...(await clipBytes(q.eval))];
  },
  async run(input, ctx, dir) {
    if (ctx.config.quantize!.candidates) return chooseStage(input, ctx, dir);
    const { calib, eval: held, mixed, budget, candidates: _c, choose: _ch, rounds: _r, nodeThreads: _n, ...options } = ctx.config.quantize!;
    const { report } = await quantizeArtifact(input.onnx, {
      calib,
      ...(held && { eval: held }),
      options,
      guard: { budget, mixed },
      out: dir,
      // The last line names the scratch directory, which the cache renames: left out.
      log: (line) => line.startsWith("wrote ") || ctx.log(`  ${line}`),
    });
    const guard = report
      ? `; int8 agreement ${report.candidate.agreement.toFixed(1)}%, top-1 drop ${report.top1Drop.toFixed(2)} points` +
        (report.mixed ? `; mixed: ${report.mixed.fp32Layers.length} layers fp32, drop ${report.mixed.top1Drop.toFixed(2)}` : "")
      : "";
    return { summary: `${options.format} ${options.method}${guard}`, model: { onnx: "model.onnx", manifest: "manifest.json" } };
  },
};
