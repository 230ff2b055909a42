// `npm run compile -- prune ...` as a user runs it (a child process): the
// artifact it writes, its report, clear one-line errors, and the whole
// chain with the training engine on a real tiny run: Taylor scores, prune,
// fine-tune with distillation from the unpruned model.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { parseManifestJson } from "../../contract/manifest.ts";
import { loadModel } from "../ir/index.ts";
import { COMPILE_PASSES } from "../pipeline.ts";
import { writeRunDir } from "../testing/run-dir.ts";
import { videoModel } from "../testing/video-model.ts";
import { defaultPython } from "../../training/python.ts";

const root = resolve(import.meta.dirname, "../..");

function npmCompile(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile("npm", ["run", "-s", "compile", "--", ...args], { cwd: root, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      done({ code: error ? Number(error.code) : 0, stdout, stderr });
    });
  });
}

describe("npm run compile -- prune", () => {
  it("writes the pruned model, a manifest with the prune pass, and a report of every group", async () => {
    const dir = await mkdtemp(join(tmpdir(), "edgevid-prune-"));
    await writeRunDir(dir, videoModel());
    const out = join(dir, "p");
    const run = await npmCompile("prune", dir, "--ratio", "0.5", "--granularity", "2", "--out", out);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^prune: pruned 4 of 16 channels in 1 of 3 groups \(l1, sum\): params [\d,]+ -> [\d,]+, MACs 221,224 -> 110,612; 2 groups locked$/m);
    expect(run.stdout).toMatch(/^ {2}Conv_0: 8 -> 4$/m);
    expect(run.stdout).toMatch(/^ {2}graph input %video: locked: its channels come from graph input %video$/m);
    expect(run.stdout).toMatch(/^exactness: max \|pruned - zeroed original\| 0\.00e\+0 \(limit 0\.0001\)$/m);

    const manifest = parseManifestJson(await readFile(join(out, "manifest.json"), "utf8"), "manifest.json");
    expect(manifest.provenance.passes.map((p) => p.name)).toEqual(["train", ...COMPILE_PASSES.map((p) => p.name), "prune"]);
    expect(manifest.provenance.passes.at(-1)!.params).toMatchObject({ ratio: 0.5, granularity: 2, importance: "l1" });
    const report = JSON.parse(await readFile(join(out, "prune-report.json"), "utf8"));
    expect(report.groups.map((g: { channels: number; kept: number }) => [g.channels, g.kept])).toEqual([[3, 3], [8, 4], [5, 5]]);
    expect(report.after.params).toBeLessThan(report.before.params);
    const pruned = await loadModel(join(out, "model.onnx"));
    expect(pruned.graph.initializers.find((t) => t.name === "dw.weight")!.dims).toEqual([4, 1, 3, 3, 3]);
  });

  it("bad flags and files are one-line errors", async () => {
    const dir = await mkdtemp(join(tmpdir(), "edgevid-prune-"));
    await writeRunDir(dir, videoModel());
    const cases: [string[], string][] = [
      [["--ratio", "half"], '--ratio: "half" is not a number'],
      [["--ratio", "2"], "flags: prune config: ratio: Too big: expected number to be <=0.99"],
      [["--layer", "nope=0.5"], 'prune: layers: "nope" matches no layer'],
      [["--macs", "10"], "prune: macs budget 10 is out of reach: pruning 95% of the prunable channels leaves 27,653"],
      [["--ratio", "0.5", "--taylor", join(dir, "missing.json")], `${join(dir, "missing.json")}: no such file (Taylor scores)`],
      [["--ratio", "0.5", "--finetune", dir, "--epochs", "0"], '--epochs: "0" is not a whole number >= 1'],
      [["--ratio", "0.5", "--finetune", dir, "--lr", "fast"], '--lr: "fast" is not a positive number'],
    ];
    for (const [flags, message] of cases) {
      const run = await npmCompile("prune", dir, ...flags);
      expect({ code: run.code, stderr: run.stderr.split("\n")[0] }).toEqual({ code: 1, stderr: `error: ${message}` });
    }
    await writeFile(join(dir, "scores.json"), "{}");
    const bad = await npmCompile("prune", dir, "--ratio", "0.5", "--taylor", join(dir, "scores.json"));
    expect(bad.stderr).toBe(`error: ${join(dir, "scores.json")}: not a Taylor scores file ({"scores": {value: [number per channel]}})\n`);
  });

  it("on a real tiny X3D run: Taylor scores from the engine, prune, fine-tune with distillation from the unpruned model", async () => {
    const dir = await mkdtemp(join(tmpdir(), "edgevid-prune-engine-"));
    // A tiny synthetic dataset and a 1-epoch tiny X3D teacher (a few clips, one thread).
    const script = [
      "import sys",
      "from videotrain.data.synthetic import generate_dataset",
      "from videotrain.train import TrainOptions, train",
      "generate_dataset(sys.argv[1] + '/data', clips_per_class_train=1, clips_per_class_val=1, seed=5, workers=1, progress=False)",
      "train(TrainOptions(out=sys.argv[1] + '/run', data=sys.argv[1] + '/data', preset='tiny', epochs=1, batch_size=4,",
      "      workers=0, threads=1, progress=False, tensorboard=False, id='tiny-teacher', version='1'))",
    ].join("\n");
    await promisify(execFile)(defaultPython(), ["-c", script, dir], { cwd: root, env: { ...process.env, OMP_NUM_THREADS: "1" } });

    const out = join(dir, "pruned");
    const data = join(dir, "data");
    // Relative paths start from where npm runs (the repo root), not from the engine's config file.
    const run = await npmCompile("prune", join(dir, "run"), "--ratio", "0.5", "--granularity", "4", "--taylor-data", relative(root, data),
      "--finetune", relative(root, data), "--epochs", "1", "--out", out);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^prune: pruned \d+ of [\d,]+ channels in \d+ of \d+ groups \(taylor, sum\)/m);
    expect(run.stdout).not.toMatch(/scored by L1 instead/);
    expect(run.stdout).toMatch(/^ {2}epoch 1\/1: loss [\d.]+, val top-1 ([\d.]+%|n\/a)/m);

    const manifest = parseManifestJson(await readFile(join(out, "finetuned", "manifest.json"), "utf8"), "finetuned manifest");
    expect(manifest.provenance.passes.map((p) => p.name).slice(-2)).toEqual(["prune", "finetune"]);
    expect(manifest.provenance.passes.at(-1)!.params).toMatchObject({ teacher: { id: "tiny-teacher", version: "1" } });
    const pruned = await loadModel(join(out, "model.onnx"));
    const finetuned = await loadModel(join(out, "finetuned", "model.onnx"));
    // Same pruned graph, new weights.
    expect(finetuned.graph.initializers.map((t) => [t.name, t.dims])).toEqual(pruned.graph.initializers.map((t) => [t.name, t.dims]));
  }, 600_000);
});
