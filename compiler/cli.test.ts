// The CLI as a user runs it: `npm run compile -- ...` in a child process.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { parseManifestJson } from "../contract/manifest.ts";
import { sha256Hex } from "./artifact.ts";
import { writeRunDir } from "./testing/run-dir.ts";
import { videoModel } from "./testing/video-model.ts";

const root = resolve(import.meta.dirname, "..");

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function npmCompile(...args: string[]): Promise<Run> {
  return new Promise((done) => {
    execFile("npm", ["run", "-s", "compile", "--", ...args], { cwd: root }, (error, stdout, stderr) => {
      done({ code: error ? Number(error.code) : 0, stdout, stderr });
    });
  });
}

/** A user error: exit 1 and exactly one line on stderr, no stack trace. */
function expectOneLineError(run: Run, message: string): void {
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 1, stderr: `error: ${message}\n` });
}

describe("npm run compile", () => {
  it("compiles a run dir and reports each pass and the parity", async () => {
    const dir = await mkdtemp(join(tmpdir(), "edgevid-cli-"));
    await writeRunDir(dir, videoModel());
    const run = await npmCompile(dir, "--version", "3-compiled");
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split("\n");
    expect(lines[0]).toBe(`${join(dir, "teacher.onnx")}: 15 nodes, opset 17`);
    expect(lines.slice(1, 5).map((l) => l.trim().split(/\s+/).slice(0, 4).join(" "))).toEqual([
      "fold-constants 15 -> 12",
      "canonicalize-activations 12 -> 12",
      "fold-batchnorm 12 -> 10",
      "eliminate-dead-nodes 10 -> 9",
    ]);
    expect(lines[5]).toMatch(/^parity: max \|logit difference\| \S+ \(limit 0\.001\)$/);
    expect(lines[6]).toMatch(new RegExp(`^wrote ${join(dir, "compiled", "model.onnx")} \\(\\d+ bytes\\) and `));
    const manifest = parseManifestJson(await readFile(join(dir, "compiled", "manifest.json"), "utf8"));
    expect(manifest.version).toBe("3-compiled");
    expect(manifest.model.sha256).toBe(sha256Hex(await readFile(join(dir, "compiled", "model.onnx"))));
  });

  it("inspect prints the graph, the input/output spec, parameters, op histogram, multiply-adds and activation memory", async () => {
    const dir = await mkdtemp(join(tmpdir(), "edgevid-cli-"));
    await writeRunDir(dir, videoModel());
    const model = join(dir, "teacher.onnx");
    const run = await npmCompile("inspect", model);
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split("\n");
    expect(lines[0]).toBe("graph video_classifier(%video: float32[1,3,4,16,16]) -> (%logits: float32[1,5]) {");
    expect(lines).toContain(
      "  %conv0 = Conv(%video, %stem.weight, %stem.bias) {kernel_shape=[3,3,3], pads=[1,1,1,1,1,1], strides=[1,2,2]} : float32[1,8,4,8,8]  # Conv_0",
    );
    expect(lines.slice(-7)).toEqual([
      `${model}: IR 8, opset 17, producer edgevid-compiler`,
      "inputs:      %video: float32[1,3,4,16,16]",
      "outputs:     %logits: float32[1,5]",
      "parameters:  986 in 14 initializers and Constant nodes",
      "nodes:       15 (BatchNormalization 2, Conv 2, Identity 2, Mul 2, Constant 1, Flatten 1, Gemm 1, " +
        "GlobalAveragePool 1, ReduceMean 1, Relu 1, Sigmoid 1)",
      "multiply-adds: 221,224 per clip (221.2 kMACs; Conv, MatMul, Gemm, Einsum)",
      'activations: peak 36.0 KiB live at node "Mul_7" (Mul), 64.1 KiB produced in all (graph order, per clip)',
    ]);
  });

  it("explains user mistakes in one line and exits 1", async () => {
    const dir = await mkdtemp(join(tmpdir(), "edgevid-cli-"));
    const [good, badJson, badField, changed, notOnnx] = ["good", "bad-json", "bad-field", "changed", "not-onnx"].map((d) => join(dir, d));
    await writeRunDir(good, videoModel());
    await writeRunDir(badJson, videoModel());
    await writeFile(join(badJson, "manifest.json"), "{ not json");
    await writeRunDir(badField, videoModel(), (m) => ({ ...m, labels: ["only-one"] }));
    await writeRunDir(changed, videoModel());
    await writeFile(join(changed, "teacher.onnx"), "tampered");
    const garbage = new TextEncoder().encode("definitely not a protobuf");
    await writeRunDir(notOnnx, videoModel(), (m) => ({ ...m, model: { ...m.model, sha256: sha256Hex(garbage), bytes: garbage.length } }));
    await writeFile(join(notOnnx, "teacher.onnx"), garbage);

    const runs = await Promise.all([
      npmCompile(join(dir, "missing")),
      npmCompile(badJson),
      npmCompile(badField),
      npmCompile(changed),
      npmCompile(notOnnx),
      npmCompile("inspect", join(dir, "nothing.onnx")),
      npmCompile(good, "--frobnicate"),
    ]);
    expectOneLineError(runs[0], `${join(dir, "missing")}: no such file or directory`);
    expect(runs[1].stderr).toMatch(new RegExp(`^error: ${join(badJson, "manifest.json")}: invalid manifest: \\(root\\): not valid JSON: .*\\n$`));
    expectOneLineError(runs[2], `${join(badField, "manifest.json")}: invalid manifest: labels: Too small: expected array to have >=2 items`);
    expect(runs[3].stderr).toMatch(
      new RegExp(`^error: ${join(changed, "teacher.onnx")}: sha256 [0-9a-f]{64} does not match ${join(changed, "manifest.json")} .*\\n$`),
    );
    expect(runs[4].stderr).toMatch(
      new RegExp(`^error: ${join(notOnnx, "teacher.onnx")}: not a valid ONNX file \\(truncated, or not ONNX at all\\): .*\\n$`),
    );
    expectOneLineError(runs[5], `${join(dir, "nothing.onnx")}: no such file`);
    expect(runs[6].stderr.split("\n")[0]).toBe("error: Unknown option '--frobnicate'. To specify a positional argument starting with a '-', place it at the end of the command after '--', as in '-- \"--frobnicate\"");
    for (const run of runs) {
      expect(run.code).toBe(1);
      expect(run.stderr).not.toMatch(/^\s+at /m);
    }
  });
});
