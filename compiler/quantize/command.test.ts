// `npm run compile -- quantize ...` as a user runs it (a child process): the
// artifact and report it writes, the accuracy guard's lines, and one-line
// errors for calibration data that is missing, empty or mis-shaped.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { parseManifestJson } from "../../contract/manifest.ts";
import { loadModel } from "../ir/index.ts";
import { writeRunDir } from "../testing/run-dir.ts";
import { videoModel } from "../testing/video-model.ts";
import { encodeNpy } from "./npy.ts";
import { movingClips } from "./test-support.ts";

const root = resolve(import.meta.dirname, "../..");

function npmCompile(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile("npm", ["run", "-s", "compile", "--", ...args], { cwd: root, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      done({ code: error ? Number(error.code) : 0, stdout, stderr });
    });
  });
}

async function clipDir(dir: string, seed: number, count: number, labels?: number[]): Promise<string> {
  await mkdir(dir, { recursive: true });
  const clips = movingClips(count, [1, 3, 4, 16, 16], seed);
  await writeFile(join(dir, "clips.npy"), encodeNpy([count, 3, 4, 16, 16], Float32Array.from(clips.flatMap((c) => [...(c.input.data as Float32Array)]))));
  if (labels) await writeFile(join(dir, "labels.txt"), `clips.npy ${labels.join(",")}\n`);
  return dir;
}

describe("npm run compile -- quantize", () => {
  it("writes the int8 model, a manifest with the quantize pass, and a report with the guard's numbers", async () => {
    const dir = await mkdtemp(join(tmpdir(), "edgevid-quantize-"));
    await writeRunDir(dir, videoModel());
    const calib = await clipDir(join(dir, "calib"), 1, 6);
    const held = await clipDir(join(dir, "held"), 2, 6, [0, 1, 2, 3, 4, 0]);
    const out = join(dir, "q");
    const run = await npmCompile("quantize", dir, "--calib", calib, "--eval", held, "--method", "minmax", "--format", "qoperator", "--mixed", "--budget", "0", "--out", out);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^calibrating on 6 clips from /m);
    expect(run.stdout).toMatch(/^quantize: QDQ: \d+ nodes quantized .*QOperator: 2 QLinearConv, .*1 QGemm; 1 op of those kinds left fp32/m);
    expect(run.stdout).toMatch(/^fp32 on 6 held-out clips: top-1 [\d.]+%, agreement 100\.00%, max \|Δlogit\| 0\.0000/m);
    expect(run.stdout).toMatch(/^int8: top-1 [\d.]+%, agreement [\d.]+%, .*budget 0\)$/m);
    expect(run.stdout).toMatch(/^mixed precision: \d+ layers fp32 .*within budget 0$/m);

    const manifest = parseManifestJson(await readFile(join(out, "manifest.json"), "utf8"), "manifest.json");
    expect(manifest.provenance.passes.at(-1)).toMatchObject({ name: "quantize", params: { method: "minmax", format: "qoperator", budget: 0 } });
    const report = JSON.parse(await readFile(join(out, "quantize-report.json"), "utf8"));
    expect(report.guard.sensitivity.length).toBeGreaterThan(0);
    expect(report.guard.mixed.withinBudget).toBe(true);
    expect(Object.keys(report.ranges)).toContain("video");
    const model = await loadModel(join(out, "model.onnx"));
    expect(model.opsetImports).toContainEqual({ domain: "com.microsoft", version: 1 });
  }, 120_000);

  it("names the problem with the calibration data in one line", async () => {
    const dir = await mkdtemp(join(tmpdir(), "edgevid-quantize-"));
    await writeRunDir(dir, videoModel());
    const missing = await npmCompile("quantize", dir, "--calib", join(dir, "nope"));
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe(`error: ${join(dir, "nope")}: calibration/evaluation data not found (expected a directory of .npy clips)`);
    await mkdir(join(dir, "empty"));
    const empty = await npmCompile("quantize", dir, "--calib", join(dir, "empty"));
    expect(empty.stderr.trim()).toBe(`error: ${join(dir, "empty")}: no .npy clips; expected files of [N,3,4,16,16] or [3,4,16,16] float32 (input %video)`);
    await mkdir(join(dir, "wrong"));
    await writeFile(join(dir, "wrong", "a.npy"), encodeNpy([3, 8, 16, 16], new Float32Array(3 * 8 * 16 * 16)));
    const wrong = await npmCompile("quantize", dir, "--calib", join(dir, "wrong"));
    expect(wrong.stderr.trim()).toBe(`error: ${join(dir, "wrong", "a.npy")}: shape [3,8,16,16], expected [N,3,4,16,16] or [3,4,16,16] float32 (input %video)`);
    const noEval = await npmCompile("quantize", dir, "--calib", join(dir, "wrong"), "--mixed");
    expect(noEval.stderr.trim()).toBe("error: --sensitivity and --mixed need --eval DIR (held-out clips)");
    const badMethod = await npmCompile("quantize", dir, "--calib", join(dir, "wrong"), "--method", "kl");
    expect(badMethod.stderr).toMatch(/^error: --method: Invalid option: expected one of "minmax"\|"percentile"\|"entropy"/);
  }, 120_000);
});
