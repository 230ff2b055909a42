// Choosing a quantized form by measurement: the one candidate loop that both
// `npm run bench:quantize` and the compile.json "quantize" stage (with
// "candidates") run. Builds the asked-for candidates from the fp32 model
// (fp32; QDQ with entropy and minmax ranges; QOperator; mixed precision from
// the per-layer sensitivity; weight-only), evaluates each on the held-out
// clips, measures each in onnxruntime-web (wasm, 1 thread) and
// onnxruntime-node, and selects (compiler/select.ts). Extra models (the
// bundled student, onnxruntime's quantize_static) can ride along: evaluated,
// measured and reported, never chosen.
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { encodeModel, type Model } from "../ir/index.ts";
import { measureModels, ISOLATE_LIMIT_BYTES, type Measurement } from "../measure/latency.ts";
import type { Report, ReportCandidate } from "../report/schema.ts";
import { selectCandidate, CANDIDATE_KINDS, type CandidateKind, type Decision, type MeasuredCandidate } from "../select.ts";
import type { Clip } from "./clips.ts";
import { calibrate, quantizableLayers, quantize, type QuantizeOptions } from "./index.ts";
import { evaluate, logitsOf } from "./evaluate.ts";
import { layerSensitivity, mixedPrecision, type LayerSensitivity } from "./sensitivity.ts";

export interface CandidateModel {
  readonly name: string;
  readonly stage: ReportCandidate["stage"];
  readonly kind: CandidateKind;
  readonly bytes: Uint8Array;
  readonly summary: string;
}

export interface EvaluatedCandidate extends CandidateModel {
  /** Top-1 on the held-out clips, 0..1 (agreement with fp32's answers when the clips have no labels). */
  readonly top1: number;
  readonly measurement: Measurement;
  readonly selectable: boolean;
}

export interface ChooseOptions {
  readonly calibration: readonly Clip[];
  readonly heldOut: readonly Clip[];
  /** Kinds to build (default all five). fp32 is always built: the budget is measured from it. */
  readonly candidates?: readonly CandidateKind[];
  /** Top-1 points a candidate may lose against fp32 (default 1). */
  readonly budget?: number;
  /** Force a candidate by name or kind. */
  readonly choose?: string;
  readonly rounds?: number;
  readonly nodeThreads?: number;
  /** Scratch directory for the candidates' files (measured from disk); removed unless keepFiles. */
  readonly work: string;
  readonly keepFiles?: boolean;
  /** Measured and reported next to the candidates, not selectable. */
  readonly extra?: readonly CandidateModel[];
  /** Sensitivity runs on every n-th held-out clip (default 4; one evaluation per layer). */
  readonly sensitivityEvery?: number;
  readonly log?: (line: string) => void;
}

export interface ChooseResult {
  readonly chosen: EvaluatedCandidate;
  /** Candidates first (fp32 first), then the extras, in measuring order. */
  readonly candidates: readonly EvaluatedCandidate[];
  readonly decision: Decision;
  readonly sensitivity: readonly LayerSensitivity[];
  readonly mixedLayers: readonly string[];
  readonly budget: number;
  readonly nodeThreads: number;
  readonly heldOutClips: number;
}

/** The quantized forms per kind, in the order they are built. */
const FORMS: readonly [string, CandidateKind, QuantizeOptions][] = [
  ["qdq-entropy", "qdq", { format: "qdq", method: "entropy" }],
  ["qdq-minmax", "qdq", { format: "qdq", method: "minmax" }],
  ["qoperator-entropy", "qoperator", { format: "qoperator", method: "entropy" }],
  ["weight-only", "weight-only", { format: "weight-only" }],
];

export async function chooseQuantized(fp32: Model, opts: ChooseOptions): Promise<ChooseResult> {
  const log = opts.log ?? (() => {});
  const kinds = new Set<CandidateKind>(opts.candidates ?? CANDIDATE_KINDS);
  const budget = opts.budget ?? 1;
  const nodeThreads = opts.nodeThreads ?? 1;
  const held = opts.heldOut;
  const calib = await calibrate(fp32, opts.calibration.map((c) => c.input));
  const fp32Bytes = encodeModel(fp32);
  const built: CandidateModel[] = [{ name: "fp32", stage: "student", kind: "fp32", bytes: fp32Bytes, summary: "compiled: BN folded, constants folded" }];
  for (const [name, kind, options] of FORMS) {
    if (kinds.has(kind)) {
      const q = quantize(fp32, calib, options);
      built.push({ name, stage: "quantized", kind, bytes: encodeModel(q.model), summary: q.summary });
    }
  }

  // Accuracy guard: per-layer sensitivity of the more accurate all-int8 QDQ
  // model, then mixed precision within the budget.
  const reference = await logitsOf(fp32Bytes, held);
  let sensitivity: LayerSensitivity[] = [];
  let mixedLayers: string[] = [];
  if (kinds.has("mixed")) {
    const qdqAgreement = async (method: "entropy" | "minmax") =>
      (await evaluate(encodeModel(quantize(fp32, calib, { format: "qdq", method }).model), held, reference)).agreement;
    const method = (await qdqAgreement("minmax")) >= (await qdqAgreement("entropy")) ? "minmax" : "entropy";
    const build = (exclude: ReadonlySet<string>) => encodeModel(quantize(fp32, calib, { format: "qdq", method, exclude: [...exclude] }).model);
    const every = opts.sensitivityEvery ?? 4;
    const some = held.filter((_, i) => i % every === 0);
    const someReference = reference.filter((_, i) => i % every === 0);
    const sensCtx = { build, clips: some, reference: someReference, fp32: await evaluate(fp32Bytes, some, someReference) };
    const layers = quantizableLayers(fp32, calib);
    log(`sensitivity of ${layers.length} layers (QDQ, ${method} ranges) on ${some.length} clips...`);
    sensitivity = (await layerSensitivity(sensCtx, layers)).layers;
    const allInt8 = await evaluate(build(new Set()), held, reference);
    const mixed = await mixedPrecision({ build, clips: held, reference, fp32: await evaluate(fp32Bytes, held, reference) }, sensitivity, allInt8, budget);
    mixedLayers = mixed.fp32Layers;
    if (mixedLayers.length > 0) {
      built.push({ name: `mixed-${mixedLayers.length}`, stage: "quantized", kind: "mixed", bytes: build(new Set(mixedLayers)), summary: `QDQ ${method}, ${mixedLayers.join(", ")} kept fp32` });
    }
    log(`sensitivity: ${sensitivity.length} layers; all-int8 QDQ agrees with fp32 on ${allInt8.agreement.toFixed(1)}% of held-out clips; mixed precision keeps ${mixedLayers.length} in fp32${mixedLayers.length === 0 ? " (all-int8 QDQ is within the budget: no mixed candidate)" : ""}`);
  }

  const all = [...built, ...(opts.extra ?? [])];
  const top1s: number[] = [];
  for (const c of all) {
    const e = await evaluate(c.bytes, held, reference);
    top1s.push((e.top1 ?? e.agreement) / 100);
  }

  await mkdir(opts.work, { recursive: true });
  const paths = all.map((c) => join(opts.work, `${c.name}.onnx`));
  await Promise.all(all.map((c, i) => writeFile(paths[i], c.bytes)));
  const rounds = opts.rounds ?? 5;
  log(`measuring ${all.length} candidates (${rounds} interleaved rounds; web: wasm 1 thread; node: ${nodeThreads} thread(s))...`);
  let measured: Measurement[];
  try {
    measured = await measureModels(paths, { rounds, runsPerRound: 3, warmup: 2, nodeThreads });
  } finally {
    if (!opts.keepFiles) await rm(opts.work, { recursive: true, force: true });
  }

  const evaluated: EvaluatedCandidate[] = all.map((c, i) => ({ ...c, top1: top1s[i], measurement: measured[i], selectable: i < built.length }));
  const selectable: MeasuredCandidate[] = evaluated.filter((c) => c.selectable).map((c) => ({ name: c.name, kind: c.kind, top1: c.top1, bytes: c.bytes.length, measurement: c.measurement }));
  const decision = selectCandidate(selectable, { budgetPoints: budget, ...(opts.choose !== undefined && { choose: opts.choose }) });
  const chosen = evaluated.find((c) => c.name === decision.chosen)!;
  return { chosen, candidates: evaluated, decision, sensitivity, mixedLayers, budget, nodeThreads, heldOutClips: held.length };
}

/** The manifest's record of the shipped candidate: what the held-out set and the runtimes measured. */
export function chosenMetrics(r: ChooseResult): Record<string, number> {
  const m = r.chosen.measurement;
  return {
    "heldOut.top1": r.chosen.top1,
    "heldOut.clips": r.heldOutClips,
    ...(m.web && { "latency.webMs": m.web.timing.medianMs }),
    ...(m.node && { "latency.nodeMs": m.node.timing.medianMs }),
    ...(m.web?.peakWasmBytes !== undefined && { "memory.peakWasmBytes": m.web.peakWasmBytes }),
  };
}

/** The compile report (report/schema.ts) of a choice. */
export function choiceReport(r: ChooseResult, meta: { model: { id: string; version: string }; heldOutSource: string }): Report {
  return {
    model: meta.model,
    createdAt: new Date().toISOString(),
    heldOut: { clips: r.heldOutClips, source: meta.heldOutSource },
    budgetPoints: r.budget,
    memoryLimitBytes: ISOLATE_LIMIT_BYTES,
    nodeThreads: r.nodeThreads,
    candidates: r.candidates.map((c) => ({
      name: c.name,
      stage: c.stage,
      kind: c.kind,
      top1: c.top1,
      bytes: c.bytes.length,
      web: c.measurement.web?.timing,
      node: c.measurement.node?.timing,
      peakWasmBytes: c.measurement.web?.peakWasmBytes,
      selectable: c.selectable,
      note: c.summary,
    })),
    sensitivity: r.sensitivity.map((l) => ({ layer: l.layer, top1Gain: l.top1Gain, meanAbsDeltaGain: l.meanAbsDeltaGain })),
    decision: { ...r.decision, reasons: [...r.decision.reasons], verdicts: [...r.decision.verdicts] },
  };
}

/** The bench's table rows: one per candidate, with the choice marked. */
export function candidateRows(r: ChooseResult): Record<string, string>[] {
  const fp32Web = r.candidates.find((c) => c.name === "fp32")?.measurement.web?.timing.medianMs;
  return r.candidates.map((c) => {
    const web = c.measurement.web;
    const node = c.measurement.node;
    return {
      candidate: c.name,
      "top-1 %": (c.top1 * 100).toFixed(1),
      "size KiB": (c.bytes.length / 1024).toFixed(1),
      "web ms [IQR]": web ? `${web.timing.medianMs.toFixed(1)} [${(web.timing.q3Ms - web.timing.q1Ms).toFixed(1)}]` : "-",
      "web vs fp32": web && fp32Web ? `${(fp32Web / web.timing.medianMs).toFixed(2)}x` : "-",
      "node ms [IQR]": node ? `${node.timing.medianMs.toFixed(2)} [${(node.timing.q3Ms - node.timing.q1Ms).toFixed(2)}]` : "-",
      "peak wasm MiB": web?.peakWasmBytes !== undefined ? (web.peakWasmBytes / 2 ** 20).toFixed(0) : "-",
      choice: c.name === r.decision.chosen ? "CHOSEN" : c.selectable ? "" : "(not a candidate)",
    };
  });
}
