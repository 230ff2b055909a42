// Real zoo models for tests: exports one through the training package
// (export-zoo.py, random weights) into .cache/zoo-onnx/, keyed by the script,
// the training package's model code and the arguments, so a re-run reuses it.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { z } from "zod";
import { defaultPython } from "../../training/python.ts";

const root = resolve(import.meta.dirname, "../..");
const SCRIPT = join(import.meta.dirname, "export-zoo.py");

export type Exporter = "torchscript" | "dynamo";

const Info = z.object({
  params: z.number().int(),
  /** count_macs at batch 1: conv, matmul, gemm and einsum multiply-adds, BatchNorm none. */
  macs: z.number().int(),
  inputShape: z.array(z.number().int()),
  exporter: z.enum(["torchscript", "dynamo"]),
  ops: z.record(z.string(), z.number()),
});
export type ZooInfo = z.infer<typeof Info>;

export interface ZooExport {
  readonly modelPath: string;
  readonly info: ZooInfo;
}

/** What the export depends on: this script and the training package's model and export code. */
function sourceHash(args: readonly string[]): string {
  const hash = createHash("sha256").update(readFileSync(SCRIPT)).update(args.join("\0"));
  const models = join(root, "training/videotrain/models");
  for (const f of readdirSync(models).filter((f) => f.endsWith(".py")).sort()) hash.update(readFileSync(join(models, f)));
  hash.update(readFileSync(join(root, "training/videotrain/export.py")));
  return hash.digest("hex").slice(0, 12);
}

export async function zooExport(arch: string, preset: string, exporter: Exporter): Promise<ZooExport> {
  const args = ["--arch", arch, "--preset", preset, "--exporter", exporter];
  const dir = join(root, ".cache/zoo-onnx", `${arch}-${preset}-${exporter}-${sourceHash(args)}`);
  const infoPath = join(dir, "info.json");
  if (!existsSync(infoPath)) {
    await promisify(execFile)(defaultPython(), [SCRIPT, ...args, "--out", dir], {
      cwd: root,
      env: { ...process.env, OMP_NUM_THREADS: "1", MKL_NUM_THREADS: "1" },
      maxBuffer: 16 << 20,
    });
  }
  return { modelPath: join(dir, "model.onnx"), info: Info.parse(JSON.parse(readFileSync(infoPath, "utf8"))) };
}
