// One real path through all the doors: synthetic H.264 clips → `npm run train`
// (tiny X3D on CPU) → `npm run compile --explain` → the Worker in workerd
// (Miniflare, the model stored in its R2 bucket) answering POST /v1/classify
// for frames a client extracted from held-out clips, and explaining them as
// `videotrain explain` does in PyTorch. Slow by nature (5–10 minutes on two
// cores): it trains a model.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseManifestJson, type Manifest } from "../../contract/manifest.ts";
import { parseNpy } from "../../compiler/quantize/npy.ts";
import { bundleWorker, framesBody, startBundledWorker } from "../../worker/scripts/local-worker.ts";
import { compareWithEvaluation, type KeyframeEvaluation } from "../mp4-parity.ts";

const root = resolve(import.meta.dirname, "../..");
const work = join(root, ".cache", "e2e");
const python = join(root, ".venv", "bin", "python");
const data = join(work, "data");
const runDir = join(work, "run");

function run(cmd: string, args: string[]): string {
  const started = Date.now();
  const r = spawnSync(cmd, args, {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, OMP_NUM_THREADS: "2", TQDM_DISABLE: "1", FORCE_COLOR: "0" },
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  console.log(`e2e: ${[cmd, ...args].join(" ").replace(root + "/", "")} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return r.stdout;
}

interface ClipFrames {
  clip: number;
  files: string[];
}
interface FramesIndex {
  items: { path: string; label: number; clips: ClipFrames[] }[];
}
interface Evaluation {
  videos: { path: string; label: number; clipLogits: number[][] }[];
}
interface ClassifyAnswer {
  model: { id: string; version: string };
  top: { label: string; index: number; score: number }[];
  frames: { received: number; used: number };
  explain?: { label: string; grid: { t: number; h: number; w: number }; clips: { frames: { heatmap: number[] }[] }[] };
}

function pearson(a: readonly number[], b: readonly number[]): number {
  const mean = (v: readonly number[]) => v.reduce((s, x) => s + x, 0) / v.length;
  const [ma, mb] = [mean(a), mean(b)];
  let [ab, aa, bb] = [0, 0, 0];
  a.forEach((x, i) => {
    ab += (x - ma) * (b[i] - mb);
    aa += (x - ma) ** 2;
    bb += (b[i] - mb) ** 2;
  });
  return ab / Math.sqrt(aa * bb);
}

let mf: Miniflare;
let manifest: Manifest;
let frames: Record<"png" | "jpg", FramesIndex>;
let reference: Evaluation;
let keyframeReference: KeyframeEvaluation;

function softmax(logits: number[]): number[] {
  const max = Math.max(...logits);
  const e = logits.map((x) => Math.exp(x - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / sum);
}

async function classify(files: string[], topk: number, query = ""): Promise<ClassifyAnswer> {
  const { body, contentType } = await framesBody(files);
  const res = await mf.dispatchFetch(`http://edge.test/v1/classify?model=${manifest.id}&version=${manifest.version}&topk=${topk}${query}`, {
    method: "POST",
    body,
    headers: { "content-type": contentType },
  });
  const answer = (await res.json()) as ClassifyAnswer;
  if (res.status !== 200) throw new Error(`classify answered ${res.status}: ${JSON.stringify(answer)}`);
  return answer;
}

describe("train → compile → serve, end to end", () => {
  beforeAll(async () => {
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    const compiled = join(work, "compiled");
    // Through the same front doors a user types: `npm run train`, `npm run compile`.
    run("npx", ["tsx", "training/cli.ts", "make-dataset", "--out", data, "--train-per-class", "60", "--val-per-class", "8", "--seed", "11"]);
    run("npx", ["tsx", "training/cli.ts", "train", "--data", data, "--arch", "x3d", "--preset", "tiny", "--epochs", "20", "--lr", "5e-3", "--seed", "0", "--threads", "2", "--workers", "1", "--id", "e2e-tiny", "--version", "1", "--out", runDir]);
    run("npx", ["tsx", "compiler/cli.ts", runDir, "--out", compiled, "--explain"]);
    manifest = parseManifestJson(readFileSync(join(compiled, "manifest.json"), "utf8"), "compiled/manifest.json");

    // The Python trainer's evaluation of the held-out clips with the compiled model.
    const evalJson = join(work, "eval.json");
    run(python, ["-m", "videotrain", "evaluate", "--run", compiled, "--list", join(data, "val.txt"), "--out", evalJson]);
    reference = JSON.parse(readFileSync(evalJson, "utf8"));
    // And with keyframe selection: the frames the Worker's MP4 path decodes.
    const keyframeJson = join(work, "eval-keyframes.json");
    run(python, ["-m", "videotrain", "evaluate", "--run", compiled, "--list", join(data, "val.txt"), "--frame-selector", "keyframe", "--out", keyframeJson]);
    keyframeReference = JSON.parse(readFileSync(keyframeJson, "utf8"));

    // What a client would upload: the plan's frames of each held-out clip, as
    // lossless PNG (for parity with Python) and as JPEG (the common case).
    frames = { png: undefined!, jpg: undefined! };
    for (const format of ["png", "jpg"] as const) {
      const out = join(work, `frames-${format}`);
      run(python, ["-m", "videotrain", "frames", "--manifest", join(compiled, "manifest.json"), "--list", join(data, "val.txt"), "--format", format, "--out", out]);
      frames[format] = JSON.parse(readFileSync(join(out, "index.json"), "utf8"));
    }

    const dist = join(work, "dist");
    bundleWorker(dist, root);
    mf = startBundledWorker(dist);
    const bucket = await mf.getR2Bucket("MODELS");
    const prefix = `models/${manifest.id}/${manifest.version}`;
    await bucket.put(`${prefix}/model.onnx`, new Uint8Array(readFileSync(join(compiled, "model.onnx"))).buffer);
    await bucket.put(`${prefix}/manifest.json`, readFileSync(join(compiled, "manifest.json"), "utf8"));
  }, 900_000);

  afterAll(async () => {
    await mf?.dispose();
  });

  it("compiles a manifest that records its parent and the passes applied", () => {
    expect(manifest.provenance.parent?.id).toBe("e2e-tiny");
    const passes = manifest.provenance.passes.map((p) => p.name);
    expect(passes).toContain("train");
    expect(passes).toContain("fold-batchnorm");
    expect(manifest.labels).toHaveLength(8);
    expect(passes.at(-1)).toBe("expose-class-map");
    expect(manifest.output.classMap).toBe("class_map");
  });

  it("?explain=1 heatmaps match PyTorch Grad-CAM at the head's pool input on the same frames", async () => {
    // Same frames: the plan's frames of held-out clips as lossless PNG, and
    // `videotrain explain` on the videos with the run's own (same) plan.
    const items = frames.png.items.filter((_, i) => i % 16 === 0);
    const r: Record<"pool" | "cam" | "blocks4", number[]> = { pool: [], cam: [], blocks4: [] };
    let grid = "";
    for (const item of items) {
      const answer = await classify(item.clips[0].files, 3, "&explain=1");
      const explain = answer.explain!;
      grid = `${explain.grid.t}×${explain.grid.h}×${explain.grid.w}`;
      const edge = explain.clips[0].frames.flatMap((f) => f.heatmap);
      const methods = { pool: ["--method", "gradcam", "--layer", "blocks.5.pool.pre_act"], cam: ["--method", "cam"], blocks4: ["--method", "gradcam"] };
      for (const [name, args] of Object.entries(methods) as [keyof typeof r, string[]][]) {
        const out = join(work, "explain", `${item.clips[0].clip}-${name}-${r[name].length}`);
        run(python, ["-m", "videotrain", "explain", "--run", runDir, resolve(data, item.path), "--label", explain.label, "--clip", "0", "--out", out, ...args]);
        const raw = parseNpy(new Uint8Array(readFileSync(join(out, "maps_raw.npy"))));
        expect(raw.shape).toEqual([1, explain.grid.t, explain.grid.h, explain.grid.w]);
        r[name].push(pearson(edge, Array.from(raw.data as Float32Array)));
      }
    }
    const line = (v: number[]) => `mean ${(v.reduce((a, b) => a + b, 0) / v.length).toFixed(4)}, min ${Math.min(...v).toFixed(4)}`;
    console.log(
      `e2e: ?explain=1 vs PyTorch on ${items.length} held-out clips (PNG frames), Pearson r over T'×H'×W' = ${grid}: ` +
        `Grad-CAM at blocks.5.pool.pre_act ${line(r.pool)}; per-location logits (cam) ${line(r.cam)}; Grad-CAM at blocks.4 ${line(r.blocks4)}`,
    );
    expect(items.length).toBeGreaterThanOrEqual(4);
    // The same quantity computed forward-only: equal up to the answer's 3 decimals.
    expect(Math.min(...r.pool)).toBeGreaterThan(0.99);
  });

  it("the Worker agrees with the Python evaluation on the same frames (PNG)", async () => {
    let agree = 0;
    let total = 0;
    let maxDiff = 0;
    const byPath = new Map(reference.videos.map((v) => [v.path, v]));
    for (const item of frames.png.items) {
      const ref = byPath.get(item.path)!;
      expect(ref.clipLogits).toHaveLength(item.clips.length);
      for (const clip of item.clips) {
        const answer = await classify(clip.files, manifest.labels.length);
        const probs = softmax(ref.clipLogits[clip.clip]);
        const refTop = probs.indexOf(Math.max(...probs));
        total++;
        if (answer.top[0].index === refTop) agree++;
        for (const t of answer.top) maxDiff = Math.max(maxDiff, Math.abs(t.score - probs[t.index]));
      }
    }
    console.log(`e2e: Worker vs Python on ${total} held-out clips (PNG frames): top-1 agreement ${agree}/${total}, max |Δp| ${maxDiff.toExponential(2)}`);
    expect(total).toBeGreaterThanOrEqual(64);
    expect(agree).toBe(total);
    expect(maxDiff).toBeLessThan(1e-3);
  });

  it("the Worker's MP4 path agrees with the Python evaluation with keyframe selection", async () => {
    const r = await compareWithEvaluation(mf, keyframeReference, `model=${manifest.id}&version=${manifest.version}&topk=${manifest.labels.length}`);
    console.log(
      `e2e: Worker MP4 path vs Python (keyframes) on ${r.videos} held-out videos (${r.clips} clips): top-1 agreement ${r.agree}/${r.videos}, ` +
        `max |Δp| ${r.maxProbDiff.toExponential(2)}, max |Δt| of keyframes ${r.maxTimeDiff} s`,
    );
    expect(r.videos).toBeGreaterThanOrEqual(64);
    expect(r.maxTimeDiff).toBeLessThan(1e-9);
    expect(r.agree).toBe(r.videos);
    expect(r.maxProbDiff).toBeLessThan(1e-3);
  });

  it("classifies held-out clips uploaded as JPEG frames well above chance", async () => {
    let correct = 0;
    let total = 0;
    for (const item of frames.jpg.items) {
      for (const clip of item.clips) {
        const answer = await classify(clip.files, 3);
        expect(answer.frames.used).toBe(manifest.input.frames);
        total++;
        if (answer.top[0].index === item.label) correct++;
      }
    }
    const accuracy = correct / total;
    // Chance is 1/8. Measured on this machine with this recipe: 67% in Python
    // after 20 epochs (~5 min of CPU); the bar leaves room for CPU nondeterminism.
    console.log(`e2e: Worker top-1 on ${total} held-out clips (JPEG frames): ${(100 * accuracy).toFixed(1)}% (chance ${(100 / manifest.labels.length).toFixed(1)}%)`);
    expect(accuracy).toBeGreaterThanOrEqual(0.5);
  });
});
