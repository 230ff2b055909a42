// npm run bench:quantize: issue 6's "done when" on the synthetic pipeline.
// The bundled student (models/default) compiled to fp32 (BN folded), then
// quantized by compiler/quantize in every form (QDQ with entropy and minmax
// ranges, QOperator, weight-only, mixed precision from the per-layer
// sensitivity), and by onnxruntime's quantize_static (the peer) on the same
// calibration clips. Every candidate's top-1 on held-out clips, size,
// onnxruntime-web (wasm, 1 thread) and onnxruntime-node latency and peak wasm
// memory, measured in one run; the choice (compiler/select.ts); our best
// int8 against the peer; the chosen model exported with its report.
//
//   npm run bench:quantize [-- --work DIR] [--rounds 5] [--node-threads 1] [--budget 1] [--choose KIND]
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { compiledManifest, readInputArtifact, writeArtifact } from "../artifact.ts";
import { defaultOpset, encodeModel, loadModel, type Model } from "../ir/index.ts";
import { measureModels, type Measurement } from "../measure/latency.ts";
import { peerQuantize } from "../peer/peer.ts";
import { compile } from "../pipeline.ts";
import { calibrate, quantizableLayers, quantize, readClips, type Clip, type QuantizeOptions } from "../quantize/index.ts";
import { evaluate, logitsOf } from "../quantize/evaluate.ts";
import { layerSensitivity, mixedPrecision } from "../quantize/sensitivity.ts";
import { writeReport } from "../report/write.ts";
import type { ReportCandidate } from "../report/schema.ts";
import { selectCandidate, type CandidateKind, type MeasuredCandidate } from "../select.ts";
import { defaultPython } from "../../training/python.ts";

const { values: flags } = parseArgs({
  options: {
    work: { type: "string", default: ".cache/bench-quantize" },
    rounds: { type: "string", default: "5" },
    "node-threads": { type: "string", default: "1" },
    budget: { type: "string", default: "1" },
    choose: { type: "string" },
  },
});
const work = resolve(flags.work!);
const budgetPoints = Number(flags.budget);
const nodeThreads = Number(flags["node-threads"]);
const python = defaultPython();

function run(cmd: string, args: string[], cwd?: string): void {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed:\n${r.stderr}`);
}

/** The synthetic dataset (small) and its clips as the Python evaluator makes them, cached under `work`. */
function dataset(): { calibration: string; heldOut: string } {
  const data = join(work, "data");
  if (!existsSync(join(data, "val.txt"))) {
    console.log("making the synthetic dataset (3 train / 12 held-out videos per class)...");
    run(python, ["-m", "videotrain", "make-dataset", "--out", data, "--train-per-class", "3", "--val-per-class", "12", "--seed", "11", "--workers", "1", "--quiet"]);
  }
  const dump = (list: string, out: string) => {
    if (!existsSync(join(out, "labels.txt"))) run(python, [resolve("compiler/bench/dump_clips.py"), resolve("models/default/manifest.json"), join(data, list), out]);
    return out;
  };
  return { calibration: dump("train.txt", join(work, "clips-calibration")), heldOut: dump("val.txt", join(work, "clips-held-out")) };
}

interface Built {
  readonly name: string;
  readonly stage: ReportCandidate["stage"];
  readonly kind: CandidateKind;
  readonly path: string;
  readonly bytes: Uint8Array;
  readonly summary: string;
  top1?: number;
}

/** The manifest's record of the shipped candidate: what the held-out set and the runtimes measured. */
function chosenMetrics(b: Built, m: Measurement, clips: number): Record<string, number> {
  return {
    "heldOut.top1": b.top1!,
    "heldOut.clips": clips,
    "latency.webMs": m.web!.timing.medianMs,
    "latency.nodeMs": m.node!.timing.medianMs,
    "memory.peakWasmBytes": m.web!.peakWasmBytes!,
  };
}

async function main(): Promise<void> {
  await mkdir(work, { recursive: true });
  const { calibration, heldOut } = dataset();
  const fp32Dir = join(work, "fp32");
  await compile("models/default", { out: fp32Dir });
  const fp32Artifact = await readInputArtifact(fp32Dir);
  const fp32: Model = await loadModel(fp32Artifact.modelPath);
  const input = fp32.graph.inputs[0];
  const clipInput = { name: input.name, shape: input.type?.shape ?? [] };
  const labels = fp32Artifact.manifest.labels;
  const calClips = await readClips(calibration, clipInput, labels);
  const held = await readClips(heldOut, clipInput, labels);
  console.log(`calibration: ${calClips.length} clips; held-out: ${held.length} clips`);

  const calib = await calibrate(fp32, calClips.map((c) => c.input));
  const built: Built[] = [];
  const add = async (name: string, stage: Built["stage"], kind: CandidateKind, model: Model | Uint8Array, summary: string) => {
    const bytes = model instanceof Uint8Array ? model : encodeModel(model);
    const path = join(work, "candidates", `${name}.onnx`);
    await mkdir(join(work, "candidates"), { recursive: true });
    await writeFile(path, bytes);
    built.push({ name, stage, kind, path, bytes, summary });
  };
  await add("student", "student", "fp32", await loadModel("models/default/model.onnx"), "models/default as bundled");
  await add("fp32", "student", "fp32", fp32, "compiled: BN folded, constants folded");
  const forms: [string, CandidateKind, QuantizeOptions][] = [
    ["qdq-entropy", "qdq", { format: "qdq", method: "entropy" }],
    ["qdq-minmax", "qdq", { format: "qdq", method: "minmax" }],
    ["qoperator-entropy", "qoperator", { format: "qoperator", method: "entropy" }],
    ["weight-only", "weight-only", { format: "weight-only" }],
  ];
  for (const [name, kind, options] of forms) {
    const q = quantize(fp32, calib, options);
    await add(name, "quantized", kind, q.model, q.summary);
  }

  // Accuracy guard: per-layer sensitivity of the more accurate all-int8 QDQ
  // model, then mixed precision within the budget.
  const reference = await logitsOf(encodeModel(fp32), held);
  const fp32Eval = await evaluate(encodeModel(fp32), held, reference);
  const qdqAgreement = async (method: "entropy" | "minmax") =>
    (await evaluate(encodeModel(quantize(fp32, calib, { format: "qdq", method }).model), held, reference)).agreement;
  const method = (await qdqAgreement("minmax")) >= (await qdqAgreement("entropy")) ? "minmax" : "entropy";
  const build = (exclude: ReadonlySet<string>) => encodeModel(quantize(fp32, calib, { format: "qdq", method, exclude: [...exclude] }).model);
  const ctx = { build, clips: held, reference, fp32: fp32Eval };
  // Sensitivity on a quarter of the held-out clips: one evaluation per layer
  // is the bench's slowest part on a shared machine.
  const some = held.filter((_, i) => i % 4 === 0);
  const someReference = reference.filter((_, i) => i % 4 === 0);
  const sensCtx = { build, clips: some, reference: someReference, fp32: await evaluate(encodeModel(fp32), some, someReference) };
  const layers = quantizableLayers(fp32, calib);
  console.log(`sensitivity of ${layers.length} layers (QDQ, ${method} ranges) on ${some.length} clips...`);
  const sens = await layerSensitivity(sensCtx, layers);
  const allInt8 = await evaluate(build(new Set()), held, reference);
  const mixed = await mixedPrecision(ctx, sens.layers, allInt8, budgetPoints);
  if (mixed.fp32Layers.length > 0) {
    await add(`mixed-${mixed.fp32Layers.length}`, "quantized", "mixed", build(new Set(mixed.fp32Layers)), `QDQ ${method}, ${mixed.fp32Layers.join(", ")} kept fp32`);
  }
  console.log(`sensitivity: ${sens.layers.length} layers; all-int8 QDQ agrees with fp32 on ${allInt8.agreement.toFixed(1)}% of held-out clips; mixed precision keeps ${mixed.fp32Layers.length} in fp32`);

  const peerPath = join(work, "candidates", "ort-quantize_static.onnx");
  const peer = peerQuantize(fp32Artifact.modelPath, calibration, peerPath, { activation: "uint8", method: "minmax" });
  built.push({ name: "ort-quantize_static", stage: "peer", kind: "qdq", path: peerPath, bytes: await readFile(peer.out), summary: "onnxruntime quantize_static QDQ per-channel, U8S8, MinMax" });

  for (const b of built) b.top1 = (await evaluate(b.bytes, held, reference)).top1! / 100;

  console.log(`measuring ${built.length} candidates (${flags.rounds} interleaved rounds; web: wasm 1 thread; node: ${nodeThreads} thread(s))...`);
  const measured = await measureModels(built.map((b) => b.path), { rounds: Number(flags.rounds), runsPerRound: 3, warmup: 2, nodeThreads });
  const selectable = (b: Built) => b.stage !== "peer" && b.name !== "student";
  const candidates: MeasuredCandidate[] = built.map((b, i) => ({ name: b.name, kind: b.kind, top1: b.top1!, bytes: b.bytes.length, measurement: measured[i] }));
  const decision = selectCandidate(candidates.filter((_, i) => selectable(built[i])), { budgetPoints, choose: flags.choose });

  const fp32Web = measured[built.findIndex((b) => b.name === "fp32")].web!.timing.medianMs;
  const rows = built.map((b, i) => {
    const m = measured[i];
    return {
      candidate: b.name,
      "top-1 %": (b.top1! * 100).toFixed(1),
      "size KiB": (b.bytes.length / 1024).toFixed(1),
      "web ms [IQR]": `${m.web!.timing.medianMs.toFixed(1)} [${(m.web!.timing.q3Ms - m.web!.timing.q1Ms).toFixed(1)}]`,
      "web vs fp32": `${(fp32Web / m.web!.timing.medianMs).toFixed(2)}x`,
      "node ms [IQR]": `${m.node!.timing.medianMs.toFixed(2)} [${(m.node!.timing.q3Ms - m.node!.timing.q1Ms).toFixed(2)}]`,
      "peak wasm MiB": (m.web!.peakWasmBytes! / 2 ** 20).toFixed(0),
      choice: b.name === decision.chosen ? "CHOSEN" : selectable(b) ? "" : "(not a candidate)",
    };
  });
  console.table(rows);
  console.log(`choice: ${decision.chosen}\n  ${decision.reasons.join("\n  ")}`);

  // Against the peer: like for like (all-int8 QDQ, MinMax ranges, as the
  // peer is run) and our best int8 (highest top-1, then smallest).
  const peerBuilt = built.find((b) => b.stage === "peer")!;
  const versusPeer = (label: string, b: Built) => {
    const diff = (b.top1! - peerBuilt.top1!) * 100;
    console.log(
      `${label}: ${b.name} top-1 ${(b.top1! * 100).toFixed(1)}% vs ort-quantize_static ${(peerBuilt.top1! * 100).toFixed(1)}% ` +
        `(${diff >= 0 ? "+" : ""}${diff.toFixed(1)} points: ${diff >= -0.5 ? "within 0.5 or better" : "MORE THAN 0.5 POINTS WORSE"}), ` +
        `${b.bytes.length} vs ${peerBuilt.bytes.length} bytes (${b.bytes.length <= peerBuilt.bytes.length ? "same or smaller" : "LARGER"})`,
    );
  };
  versusPeer("like for like", built.find((b) => b.name === "qdq-minmax")!);
  const ours = built.filter((b) => b.stage === "quantized" && b.kind !== "weight-only");
  versusPeer("our best int8", ours.reduce((a, b) => (b.top1! > a.top1! || (b.top1 === a.top1 && b.bytes.length < a.bytes.length) ? b : a)));

  // Export: the chosen model with its manifest and the compile report.
  const chosen = built.find((b) => b.name === decision.chosen)!;
  const outDir = join(work, "out");
  const manifest = compiledManifest({
    parent: fp32Artifact.manifest,
    modelBytes: chosen.bytes,
    opset: defaultOpset(await loadModel(chosen.path)) ?? fp32Artifact.manifest.model.opset,
    passes: chosen.name === "fp32" ? [] : [{ name: `quantize (${chosen.kind})`, summary: chosen.summary }],
    version: `${fp32Artifact.manifest.version}-${chosen.name}`,
    metrics: chosenMetrics(chosen, measured[built.indexOf(chosen)], held.length),
    createdAt: new Date(),
    source: join(outDir, "manifest.json"),
  });
  await writeArtifact(outDir, chosen.bytes, manifest);
  const report = await writeReport(outDir, {
    model: { id: manifest.id, version: manifest.version },
    createdAt: new Date().toISOString(),
    heldOut: { clips: held.length, source: relative(process.cwd(), heldOut) },
    budgetPoints,
    memoryLimitBytes: 128 * 2 ** 20,
    nodeThreads,
    candidates: built.map((b, i) => ({
      name: b.name,
      stage: b.stage,
      kind: b.kind,
      top1: b.top1!,
      bytes: b.bytes.length,
      web: measured[i].web?.timing,
      node: measured[i].node?.timing,
      peakWasmBytes: measured[i].web?.peakWasmBytes,
      selectable: selectable(b),
      note: b.summary,
    })),
    sensitivity: sens.layers.map((l) => ({ layer: l.layer, top1Gain: l.top1Gain, meanAbsDeltaGain: l.meanAbsDeltaGain })),
    decision: { ...decision, reasons: [...decision.reasons], verdicts: [...decision.verdicts] },
  });
  console.log(`exported ${outDir}/model.onnx + manifest.json; report: ${report.html}`);
}

await main();
