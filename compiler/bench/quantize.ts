// npm run bench:quantize: issue 6's "done when" on the synthetic pipeline.
// The bundled student (models/default) compiled to fp32 (BN folded), then
// quantized by compiler/quantize in every form (QDQ with entropy and minmax
// ranges, QOperator, weight-only, mixed precision from the per-layer
// sensitivity), and by onnxruntime's quantize_static (the peer) on the same
// calibration clips. Every candidate's top-1 on held-out clips, size,
// onnxruntime-web (wasm, 1 thread) and onnxruntime-node latency and peak wasm
// memory, measured in one run; the choice (compiler/select.ts); our best
// int8 against the peer; the chosen model exported with its report. The
// candidate loop is compiler/quantize/candidates.ts (the compile stage's too).
//
//   npm run bench:quantize [-- --work DIR] [--rounds 5] [--node-threads 1] [--budget 1] [--choose KIND]
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { compiledManifest, readInputArtifact, writeArtifact } from "../artifact.ts";
import { decodeModel, defaultOpset, encodeModel, loadModel, type Model } from "../ir/index.ts";
import { peerQuantize } from "../peer/peer.ts";
import { compile } from "../pipeline.ts";
import { candidateRows, chooseQuantized, choiceReport, chosenMetrics, type CandidateModel, type EvaluatedCandidate } from "../quantize/candidates.ts";
import { readClips } from "../quantize/index.ts";
import { writeReport } from "../report/write.ts";
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

  // The peer on the same calibration clips, and the bundled student as it is:
  // measured and reported beside the candidates, never chosen.
  const peerPath = join(work, "ort-quantize_static.onnx");
  const peer = peerQuantize(fp32Artifact.modelPath, calibration, peerPath, { activation: "uint8", method: "minmax" });
  const extra: CandidateModel[] = [
    { name: "student", stage: "student", kind: "fp32", bytes: encodeModel(await loadModel("models/default/model.onnx")), summary: "models/default as bundled" },
    { name: "ort-quantize_static", stage: "peer", kind: "qdq", bytes: await readFile(peer.out), summary: "onnxruntime quantize_static QDQ per-channel, U8S8, MinMax" },
  ];
  const result = await chooseQuantized(fp32, {
    calibration: calClips,
    heldOut: held,
    budget: budgetPoints,
    ...(flags.choose !== undefined && { choose: flags.choose }),
    rounds: Number(flags.rounds),
    nodeThreads,
    work: join(work, "candidates"),
    keepFiles: true,
    extra,
    log: (line) => console.log(line),
  });
  const { decision, chosen } = result;
  console.table(candidateRows(result));
  console.log(`choice: ${decision.chosen}\n  ${decision.reasons.join("\n  ")}`);

  // Against the peer: like for like (all-int8 QDQ, MinMax ranges, as the
  // peer is run) and our best int8 (highest top-1, then smallest).
  const peerBuilt = result.candidates.find((b) => b.stage === "peer")!;
  const versusPeer = (label: string, b: EvaluatedCandidate) => {
    const diff = (b.top1 - peerBuilt.top1) * 100;
    console.log(
      `${label}: ${b.name} top-1 ${(b.top1 * 100).toFixed(1)}% vs ort-quantize_static ${(peerBuilt.top1 * 100).toFixed(1)}% ` +
        `(${diff >= 0 ? "+" : ""}${diff.toFixed(1)} points: ${diff >= -0.5 ? "within 0.5 or better" : "MORE THAN 0.5 POINTS WORSE"}), ` +
        `${b.bytes.length} vs ${peerBuilt.bytes.length} bytes (${b.bytes.length <= peerBuilt.bytes.length ? "same or smaller" : "LARGER"})`,
    );
  };
  versusPeer("like for like", result.candidates.find((b) => b.name === "qdq-minmax")!);
  const ours = result.candidates.filter((b) => b.stage === "quantized" && b.kind !== "weight-only");
  versusPeer("our best int8", ours.reduce((a, b) => (b.top1 > a.top1 || (b.top1 === a.top1 && b.bytes.length < a.bytes.length) ? b : a)));

  // Export: the chosen model with its manifest and the compile report.
  const outDir = join(work, "out");
  const manifest = compiledManifest({
    parent: fp32Artifact.manifest,
    modelBytes: chosen.bytes,
    opset: defaultOpset(decodeModel(chosen.bytes, chosen.name)) ?? fp32Artifact.manifest.model.opset,
    passes: chosen.name === "fp32" ? [] : [{ name: `quantize (${chosen.kind})`, summary: chosen.summary }],
    version: `${fp32Artifact.manifest.version}-${chosen.name}`,
    metrics: chosenMetrics(result),
    createdAt: new Date(),
    source: join(outDir, "manifest.json"),
  });
  await writeArtifact(outDir, chosen.bytes, manifest);
  const report = await writeReport(outDir, choiceReport(result, { model: { id: manifest.id, version: manifest.version }, heldOutSource: relative(process.cwd(), heldOut) }));
  console.log(`exported ${outDir}/model.onnx + manifest.json; report: ${report.html}`);
}

await main();
