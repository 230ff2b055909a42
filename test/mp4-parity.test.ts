// Classification through the Worker's MP4 path matches the Python trainer's
// evaluation of the same synthetic clips with keyframe selection: the same
// keyframes, the same labels, probabilities equal to float rounding. The
// bundled default model, so nothing is trained (the end-to-end test repeats
// this with a freshly trained and compiled model).
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleWorker, startBundledWorker } from "../worker/scripts/local-worker.ts";
import { compareWithEvaluation, type KeyframeEvaluation } from "./mp4-parity.ts";

const root = resolve(import.meta.dirname, "..");
const work = join(root, ".cache", "mp4-parity");
const python = join(root, ".venv", "bin", "python");
// More clips than the model's plan (1): the clips' probabilities are averaged on both sides.
const CLIPS = 3;
const labels = JSON.parse(readFileSync(join(root, "models", "default", "manifest.json"), "utf8")).labels as string[];

function videotrain(args: string[]): void {
  const r = spawnSync(python, ["-m", "videotrain", ...args], {
    cwd: join(root, "training"),
    encoding: "utf8",
    env: { ...process.env, OMP_NUM_THREADS: "2", TQDM_DISABLE: "1" },
  });
  if (r.status !== 0) throw new Error(`videotrain ${args.join(" ")} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
}

let mf: Miniflare;
let evaluation: KeyframeEvaluation;

describe("MP4 path vs `videotrain evaluate --frame-selector keyframe`", () => {
  beforeAll(() => {
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    // 24 held-out clips: 8 classes, GOPs of 4 to 30 frames, Baseline and High (B-frames), faststart or not.
    videotrain(["make-dataset", "--out", join(work, "data"), "--train-per-class", "1", "--val-per-class", "3", "--seed", "21", "--quiet"]);
    const out = join(work, "eval-keyframes.json");
    videotrain(["evaluate", "--run", join(root, "models", "default"), "--list", join(work, "data", "val.txt"), "--frame-selector", "keyframe", "--clips-per-video", String(CLIPS), "--out", out, "--no-progress"]);
    evaluation = JSON.parse(readFileSync(out, "utf8"));
    bundleWorker(join(work, "dist"), root);
    mf = startBundledWorker(join(work, "dist"), "index.js", { quiet: true });
  }, 900_000);

  afterAll(async () => {
    await mf?.dispose();
  });

  it(`same keyframes, same labels, probabilities within 1e-5 (${CLIPS} clips per video)`, async () => {
    const r = await compareWithEvaluation(mf, evaluation, `model=default&clips=${CLIPS}&topk=${labels.length}`);
    console.log(
      `mp4-parity: Worker MP4 path vs Python (keyframes, bundled model) on ${r.videos} synthetic videos (${r.clips} clips): ` +
        `top-1 agreement ${r.agree}/${r.videos}, max |Δp| ${r.maxProbDiff.toExponential(2)}, max |Δt| of keyframes ${r.maxTimeDiff} s`,
    );
    expect(r.videos).toBe(24);
    expect(r.clips).toBe(24 * CLIPS);
    expect(r.maxTimeDiff).toBeLessThan(1e-9);
    expect(r.agree).toBe(r.videos);
    // Same RGB bytes (yuv.ts), preprocessing to ~1e-6, ORT web vs native to ~1e-6.
    expect(r.maxProbDiff).toBeLessThan(1e-5);
  });
});
