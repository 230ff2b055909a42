// Issue 6's "done when": `npm run compile` from a training run directory, with
// a compile.json whose quantize stage chooses among candidates by
// measurement, gives model.onnx + manifest.json + report.json/html; the real
// bundled Worker serves that model from R2, and its answers on held-out clips
// agree with the compiler's own evaluation of the model.
//
// "Same clips": the held-out videos go through the Python evaluator's clip
// pipeline twice: compiler/quantize/dump_clips.py writes the model inputs the
// compiler evaluates (and the quantize stage is given as eval), and
// `videotrain frames --manifest` writes the same plan's frames of the same
// clips as lossless PNG, which a client sends to POST /v1/classify (the
// Worker decodes, resizes, crops and normalizes them as the manifest says).
// The model is the bundled student (models/default) as a run's teacher.onnx:
// a training run would take minutes on this machine.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseManifestJson, type Manifest } from "../../contract/manifest.ts";
import { bundleWorker, framesBody, startBundledWorker } from "../../worker/scripts/local-worker.ts";
import { ReportSchema } from "../report/schema.ts";
import { readClips } from "../quantize/clips.ts";
import { argmax, logitsOf } from "../quantize/evaluate.ts";
import { decodeModel } from "../ir/index.ts";
import { sha256Hex } from "../artifact.ts";
import { parseCompileConfig } from "./config.ts";
import { runStages } from "./run.ts";

const root = resolve(import.meta.dirname, "../..");
const work = join(root, ".cache", "quantize-serve");
const python = join(root, ".venv", "bin", "python");

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { cwd: root, encoding: "utf8", env: { ...process.env, OMP_NUM_THREADS: "1", TQDM_DISABLE: "1", FORCE_COLOR: "0" }, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return `${r.stdout}${r.stderr}`;
}

interface FramesIndex {
  items: { path: string; label: number; clips: { clip: number; files: string[] }[] }[];
}

describe("npm run compile with a measuring quantize stage, served by the Worker", { timeout: 900_000 }, () => {
  const runDir = join(work, "run");
  const out = join(work, "compiled");
  const forcedOut = join(work, "compiled-forced");
  const data = join(work, "data");
  let manifest: Manifest;
  let forced: Manifest;
  let compileLog: string;
  let mf: Miniflare;

  beforeAll(async () => {
    rmSync(runDir, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
    rmSync(forcedOut, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    // A training run directory: teacher.onnx + manifest.json naming it.
    const bundled = JSON.parse(readFileSync(join(root, "models/default/manifest.json"), "utf8"));
    const teacher = readFileSync(join(root, "models/default", bundled.model.file));
    mkdirSync(runDir, { recursive: true });
    writeFileSync(join(runDir, "teacher.onnx"), teacher);
    writeFileSync(join(runDir, "manifest.json"), JSON.stringify({ ...bundled, id: "quantize-serve", model: { ...bundled.model, file: "teacher.onnx", sha256: sha256Hex(teacher), bytes: teacher.length } }, null, 2));

    // Few videos: 2 train per class (calibration), 1 held out per class.
    if (!existsSync(join(data, "val.txt"))) {
      run(python, ["-m", "videotrain", "make-dataset", "--out", data, "--train-per-class", "2", "--val-per-class", "1", "--seed", "5", "--workers", "1", "--quiet"]);
    }
    const dump = (list: string, dir: string) => existsSync(join(dir, "labels.txt")) || run(python, ["compiler/quantize/dump_clips.py", "--manifest", join(runDir, "manifest.json"), "--list", join(data, list), "--out", dir]);
    dump("train.txt", join(work, "calib"));
    dump("val.txt", join(work, "held"));
    if (!existsSync(join(work, "frames", "index.json"))) {
      run(python, ["-m", "videotrain", "frames", "--manifest", join(runDir, "manifest.json"), "--list", join(data, "val.txt"), "--format", "png", "--out", join(work, "frames")]);
    }

    writeFileSync(
      join(work, "compile.json"),
      JSON.stringify({ quantize: { calib: "calib", eval: "held", candidates: ["fp32", "qdq", "qoperator", "mixed", "weight-only"], rounds: 2 }, out: "compiled" }, null, 2),
    );
    // Forced: int8 kernels (QLinearConv, com.microsoft ops) in the Worker too.
    writeFileSync(
      join(work, "compile-forced.json"),
      JSON.stringify({ quantize: { calib: "calib", eval: "held", candidates: ["fp32", "qoperator"], choose: "qoperator", rounds: 2 }, out: "compiled-forced", id: "quantize-serve-forced" }, null, 2),
    );
    // The CLI, as a user types it.
    compileLog = run("npx", ["tsx", "compiler/cli.ts", runDir, "--config", join(work, "compile.json")]);
    console.log(compileLog);
    console.log(run("npx", ["tsx", "compiler/cli.ts", runDir, "--config", join(work, "compile-forced.json")]));
    manifest = parseManifestJson(readFileSync(join(out, "manifest.json"), "utf8"), "compiled/manifest.json");
    forced = parseManifestJson(readFileSync(join(forcedOut, "manifest.json"), "utf8"), "compiled-forced/manifest.json");

    const dist = join(work, "dist");
    bundleWorker(dist, root);
    mf = startBundledWorker(dist, "index.js", { quiet: true });
    const bucket = await mf.getR2Bucket("MODELS");
    for (const [m, dir] of [[manifest, out], [forced, forcedOut]] as const) {
      const prefix = `models/${m.id}/${m.version}`;
      await bucket.put(`${prefix}/model.onnx`, new Uint8Array(readFileSync(join(dir, "model.onnx"))).buffer);
      await bucket.put(`${prefix}/manifest.json`, readFileSync(join(dir, "manifest.json"), "utf8"));
    }
  });
  afterAll(async () => {
    await mf?.dispose();
  });

  it("writes model.onnx, manifest.json and the report; the manifest records the decision and its measurements", () => {
    const report = ReportSchema.parse(JSON.parse(readFileSync(join(out, "report.json"), "utf8")));
    expect(readFileSync(join(out, "report.html"), "utf8")).toContain("<svg");
    expect(report.candidates.map((c) => c.kind)).toEqual(expect.arrayContaining(["fp32", "qdq", "qoperator", "weight-only"]));
    const chosen = report.candidates.find((c) => c.name === report.decision.chosen)!;
    expect(chosen.selectable).toBe(true);
    const pass = manifest.provenance.passes.at(-1)!;
    expect(pass.name).toBe("quantize");
    expect(pass.params?.chosen).toBe(report.decision.chosen);
    expect(pass.summary).toContain(report.decision.reasons[0]);
    expect(manifest.metrics["heldOut.top1"]).toBe(chosen.top1);
    expect(manifest.metrics["latency.webMs"]).toBe(chosen.web!.medianMs);
    expect(manifest.metrics["memory.peakWasmBytes"]).toBeGreaterThan(0);
    expect(readFileSync(join(out, "model.onnx")).length).toBe(chosen.bytes);
    console.log(`quantize-serve: chose ${report.decision.chosen} (${chosen.kind}); ${report.decision.reasons.join("; ")}`);
    for (const c of report.candidates) {
      console.log(`  ${c.name}: top-1 ${(100 * c.top1).toFixed(1)}%, ${c.bytes} bytes, web ${c.web?.medianMs.toFixed(2)} ms [IQR ${((c.web?.q3Ms ?? 0) - (c.web?.q1Ms ?? 0)).toFixed(2)}], node ${c.node?.medianMs.toFixed(2)} ms, peak wasm ${((c.peakWasmBytes ?? 0) / 2 ** 20).toFixed(0)} MiB`);
    }
  });

  /** The Worker's top-1 per held-out clip (PNG frames) and the compiler's on the dumped clips, for the model in `dir`. */
  async function bothAnswers(m: Manifest, dir: string): Promise<{ worker: number[]; compiler: number[]; accuracy: number }> {
    const model = readFileSync(join(dir, "model.onnx"));
    const input = decodeModel(model, dir).graph.inputs[0];
    const clips = await readClips(join(work, "held"), { name: input.name, shape: input.type!.shape! }, m.labels);
    const compiler = (await logitsOf(model, clips)).map(argmax);
    const index = JSON.parse(readFileSync(join(work, "frames", "index.json"), "utf8")) as FramesIndex;
    const worker: number[] = [];
    for (const item of index.items) {
      for (const clip of item.clips) {
        const { body, contentType } = await framesBody(clip.files.map((f) => resolve(join(work, "frames"), f)));
        const res = await mf.dispatchFetch(`http://edge.test/v1/classify?model=${m.id}&version=${m.version}&topk=1`, { method: "POST", body, headers: { "content-type": contentType } });
        const answer = (await res.json()) as { model: { id: string; version: string; sha256: string }; top: { index: number }[] };
        expect(res.status, JSON.stringify(answer)).toBe(200);
        expect(answer.model).toEqual({ id: m.id, version: m.version, sha256: m.model.sha256 });
        worker.push(answer.top[0].index);
      }
    }
    const accuracy = compiler.filter((p, i) => p === clips[i].label).length / clips.length;
    console.log(`quantize-serve: ${m.id} on ${clips.length} held-out clips: Worker top-1 ${JSON.stringify(worker)}, compiler ${JSON.stringify(compiler)}; compiler top-1 ${(100 * accuracy).toFixed(1)}%`);
    return { worker, compiler, accuracy };
  }

  it("the Worker's top-1 on the held-out clips (PNG frames) equals the compiler's evaluation of the model on the same clips", async () => {
    const { worker, compiler, accuracy } = await bothAnswers(manifest, out);
    expect(worker).toEqual(compiler);
    // The compiler's evaluation here is the one the stage recorded.
    expect(accuracy).toBeCloseTo(manifest.metrics["heldOut.top1"], 6);
  });

  it("a forced QOperator choice: recorded as forced, and the Worker's int8 kernels agree with the compiler's too", async () => {
    const pass = forced.provenance.passes.at(-1)!;
    expect(pass.params).toMatchObject({ chosen: "qoperator-entropy", kind: "qoperator", forced: true });
    expect(readFileSync(join(forcedOut, "report.html"), "utf8")).toContain("quantize-serve-forced");
    expect(ReportSchema.parse(JSON.parse(readFileSync(join(forcedOut, "report.json"), "utf8"))).model).toEqual({ id: forced.id, version: forced.version });
    const { worker, compiler, accuracy } = await bothAnswers(forced, forcedOut);
    expect(worker).toEqual(compiler);
    expect(accuracy).toBeCloseTo(forced.metrics["heldOut.top1"], 6);
  });

  it("a re-run is cached and gives the same model", async () => {
    const config = parseCompileConfig(JSON.parse(readFileSync(join(work, "compile.json"), "utf8")), join(work, "compile.json"));
    const lines: string[] = [];
    const again = await runStages(runDir, config, { log: (l) => lines.push(l) });
    expect(again.stages.map((s) => s.cached)).toEqual(again.stages.map(() => true));
    expect(sha256Hex(readFileSync(again.modelPath))).toBe(manifest.model.sha256);
    expect(existsSync(join(out, "report.json"))).toBe(true);
  });
});
