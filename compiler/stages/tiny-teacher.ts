// Test fixture: a tiny synthetic dataset (`videotrain make-dataset`, 2 train
// and 1 val video per class) and a zoo architecture's tiny preset (X3D by
// default) trained on it as the teacher for one epoch on one thread. Built
// once per training-code version under .cache/compile-fixtures/ and shared
// by the engine and stage tests.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { defaultPython, REPO_ROOT } from "../../training/python.ts";

export interface TinyTeacher {
  /** Dataset dir: train.txt, val.txt, labels.txt. */
  readonly data: string;
  /** Run dir: teacher.onnx + manifest.json. */
  readonly run: string;
}

function trainingCodeHash(): string {
  const hash = createHash("sha256");
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory() && entry.name !== "__pycache__") walk(path);
      else if (entry.name.endsWith(".py")) hash.update(path).update(readFileSync(path));
    }
  };
  walk(join(REPO_ROOT, "training/videotrain"));
  return hash.digest("hex").slice(0, 12);
}

const built = new Map<string, Promise<TinyTeacher>>();

/** arch: a training-package architecture with a tiny preset (x3d, c2d_r50, slowfast_r50, mvit_v2_s). */
export function tinyTeacher(arch = "x3d"): Promise<TinyTeacher> {
  if (!built.has(arch)) built.set(arch, build(arch));
  return built.get(arch)!;
}

async function build(arch: string): Promise<TinyTeacher> {
  const dir = join(REPO_ROOT, ".cache/compile-fixtures", `tiny-${arch}-${trainingCodeHash()}`);
  const result = { data: join(dir, "data"), run: join(dir, "run") };
  if (existsSync(join(result.run, "manifest.json"))) return result;
  // Built beside, then renamed: a test file running at the same time never sees half of it.
  const work = `${dir}.${process.pid}`;
  await rm(work, { recursive: true, force: true });
  const videotrain = (...args: string[]) =>
    promisify(execFile)(defaultPython(), ["-m", "videotrain", ...args], { cwd: REPO_ROOT, env: { ...process.env, OMP_NUM_THREADS: "1" } });
  await videotrain("make-dataset", "--out", join(work, "data"), "--train-per-class", "2", "--val-per-class", "1", "--workers", "1", "--quiet");
  await videotrain("train", "--data", join(work, "data"), "--arch", arch, "--preset", "tiny", "--epochs", "1", "--batch-size", "4",
    "--workers", "0", "--threads", "1", "--no-progress", "--no-tensorboard", "--id", "tiny-teacher", "--version", "1", "--out", join(work, "run"));
  if (!existsSync(join(result.run, "manifest.json"))) {
    await rm(dir, { recursive: true, force: true });
    await rename(work, dir);
  }
  return result;
}
