// `compile`: input artifact -> checks -> passes -> parity -> output artifact.
import { join, resolve } from "node:path";
import type { Manifest, PassRecord } from "../contract/manifest.ts";
import { compiledManifest, readInputArtifact, writeArtifact } from "./artifact.ts";
import { CompileError } from "./errors.ts";
import { checkModelIo } from "./io-check.ts";
import { decodeModel, defaultOpset, encodeModel, validateModel, type Graph, type Model } from "./ir/index.ts";
import { canonicalizeActivations } from "./passes/canonicalize-activations.ts";
import { eliminateDeadNodes } from "./passes/eliminate-dead-nodes.ts";
import { foldBatchNorm } from "./passes/fold-batch-norm.ts";
import { exposeClassMap } from "./passes/expose-class-map.ts";
import { foldConstants } from "./passes/fold-constants.ts";
import type { Pass } from "./passes/pass.ts";
import { seededRandom, uniform } from "./random.ts";
import { maxAbsDiff, runModel } from "./runtime.ts";

/** The passes `compile` runs, in order. */
export const COMPILE_PASSES: readonly Pass[] = [foldConstants, canonicalizeActivations, foldBatchNorm, eliminateDeadNodes];

/** Largest |logit difference| allowed between the input and the compiled model. */
export const PARITY_LIMIT = 1e-3;

export interface CompileOptions {
  /** Output directory; default `<input dir>/compiled`. */
  readonly out?: string;
  readonly id?: string;
  readonly version?: string;
  /** Progress lines; default: none. */
  readonly log?: (line: string) => void;
  readonly now?: Date;
  /** Add the class-map output (expose-class-map) that `?explain=1` at the edge reads. */
  readonly explain?: boolean;
}

export interface CompileResult {
  readonly modelPath: string;
  readonly manifestPath: string;
  readonly parity: number;
}

/** Runs passes in order, logging one line per pass; returns the graph and one record per pass. */
export function runPasses(
  graph: Graph,
  passes: readonly Pass[],
  log: (line: string) => void = () => {},
): { graph: Graph; records: PassRecord[] } {
  const records: PassRecord[] = [];
  const width = Math.max(...passes.map((p) => p.name.length));
  for (const pass of passes) {
    const start = performance.now();
    const result = pass.run(graph);
    const ms = (performance.now() - start).toFixed(1);
    log(`  ${pass.name.padEnd(width)}  ${graph.nodes.length} -> ${result.graph.nodes.length} nodes  ${ms} ms  ${result.summary}`);
    records.push({ name: pass.name, summary: result.summary });
    graph = result.graph;
  }
  return { graph, records };
}

export async function compile(inputPath: string, options: CompileOptions = {}): Promise<CompileResult> {
  const log = options.log ?? (() => {});
  const input = await readInputArtifact(inputPath);
  const outDir = options.out ?? join(input.dir, "compiled");
  if (resolve(outDir, "model.onnx") === resolve(input.modelPath)) {
    throw new CompileError(`${outDir}: writing model.onnx there would overwrite the input model; choose another --out`);
  }
  const model = decodeModel(input.modelBytes, input.modelPath);
  const opset = defaultOpset(model)!;
  if (opset !== input.manifest.model.opset) {
    throw new CompileError(`${input.modelPath}: opset ${opset}, but ${input.manifestPath} says ${input.manifest.model.opset}`);
  }
  checkModelIo(model, input.manifest, input.modelPath);
  log(`${input.modelPath}: ${model.graph.nodes.length} nodes, opset ${opset}`);

  if (options.explain && input.manifest.output.classMap) {
    throw new CompileError(`${input.manifestPath}: the model already has a class map (%${input.manifest.output.classMap}); compile it without --explain`);
  }
  const passes = options.explain ? [...COMPILE_PASSES, exposeClassMap] : COMPILE_PASSES;
  const { graph, records } = runPasses(model.graph, passes, log);
  const compiled: Model = { ...model, graph, producerName: "edgevid-compiler", producerVersion: "" };
  validateModel(compiled, "compiled model");
  const bytes = encodeModel(compiled);

  // Check before writing, so a failed compile leaves no artifact behind.
  const parity = await logitParity(input.modelBytes, bytes, input.manifest);
  log(`parity: max |logit difference| ${parity.toExponential(2)} (limit ${PARITY_LIMIT})`);
  if (!(parity <= PARITY_LIMIT)) {
    throw new CompileError(`${input.modelPath}: compiled model differs by ${parity} (limit ${PARITY_LIMIT}); this is a compiler bug`);
  }

  const classMap = options.explain ? graph.outputs[1].name : input.manifest.output.classMap;
  const manifest = compiledManifest({
    parent: { ...input.manifest, output: { ...input.manifest.output, ...(classMap && { classMap }) } },
    modelBytes: bytes,
    opset,
    passes: records,
    id: options.id,
    version: options.version,
    createdAt: options.now ?? new Date(),
    source: join(outDir, "manifest.json"),
  });
  const written = await writeArtifact(outDir, bytes, manifest);
  log(`wrote ${written.modelPath} (${bytes.length} bytes) and ${written.manifestPath}`);
  return { ...written, parity };
}

/** Runs both models on the same seeded random clip; returns the max |logit difference|. */
async function logitParity(before: Uint8Array, after: Uint8Array, manifest: Manifest): Promise<number> {
  const { name, frames, cropSize } = manifest.input;
  const dims = [1, 3, frames, cropSize, cropSize];
  const clip = { name, dtype: "float32" as const, dims, data: uniform(seededRandom(0), 3 * frames * cropSize * cropSize) };
  const [a, b] = await Promise.all([runModel(before, [clip]), runModel(after, [clip])]);
  const pick = (outputs: typeof a) => outputs.find((o) => o.name === manifest.output.name)!;
  return maxAbsDiff(pick(a), pick(b));
}
