// The onnx package's node test cases for the ops shape inference knows,
// written to .cache/onnx-node-cases/<onnx version>/ by onnx-node-cases.py
// (offline: the generators ship in the onnx wheel) and reused while the
// script and the op list stay the same.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { z } from "zod";
import { defaultPython } from "../../training/python.ts";

const root = resolve(import.meta.dirname, "../..");
const SCRIPT = join(import.meta.dirname, "onnx-node-cases.py");

const Index = z.object({
  onnx: z.string(),
  ops: z.array(z.string()),
  cases: z.array(z.object({ name: z.string(), ops: z.array(z.string()), skipped: z.string().optional() })),
});
export type NodeCaseIndex = z.infer<typeof Index>;

export interface NodeCase {
  readonly name: string;
  readonly model: string;
  readonly inputs: string[];
  readonly outputs: string[];
}

/** Generates the cases if needed; returns the index (every case, written or not) and the written cases. */
export function nodeCases(ops: readonly string[]): { index: NodeCaseIndex; cases: NodeCase[]; dir: string } {
  const python = defaultPython();
  const version = execFileSync(python, ["-c", "import onnx; print(onnx.__version__)"], { encoding: "utf8" }).trim();
  const dir = join(root, ".cache/onnx-node-cases", version);
  const sorted = [...ops].sort();
  const key = createHash("sha256").update(readFileSync(SCRIPT)).update(sorted.join(",")).digest("hex");
  const keyFile = join(dir, "key");
  if (!existsSync(keyFile) || readFileSync(keyFile, "utf8") !== key) {
    execFileSync(python, [SCRIPT, "--out", dir, "--ops", sorted.join(",")], { cwd: root, stdio: "pipe" });
    writeFileSync(keyFile, key);
  }
  const index = Index.parse(JSON.parse(readFileSync(join(dir, "index.json"), "utf8")));
  const cases = index.cases
    .filter((c) => !c.skipped)
    .map((c) => {
      const data = join(dir, c.name, "test_data_set_0");
      const files = readdirSync(data).sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
      const pick = (prefix: string) => files.filter((f) => f.startsWith(prefix)).map((f) => join(data, f));
      return { name: c.name, model: join(dir, c.name, "model.onnx"), inputs: pick("input_"), outputs: pick("output_") };
    });
  return { index, cases, dir };
}
