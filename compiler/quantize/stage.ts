// The "quantize" compile stage: quantizeArtifact on the current artifact with
// compile.json's quantize section; cached on that section and the clips' bytes.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Stage } from "../stages/stages.ts";
import { quantizeArtifact } from "./command.ts";

async function clipBytes(dir: string | undefined): Promise<Uint8Array[]> {
  if (!dir) return [];
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith(".npy") || f === "labels.txt").sort();
  return Promise.all(files.map(async (f) => new Uint8Array(await readFile(join(dir, f)))));
}

export const quantizeStage: Stage = {
  name: "quantize",
  code: ["compiler/quantize", "compiler/ir", "compiler/passes", "compiler/artifact.ts"],
  async key(ctx) {
    const q = ctx.config.quantize!;
    return [JSON.stringify(q), ...(await clipBytes(q.calib)), ...(await clipBytes(q.eval))];
  },
  async run(input, ctx, dir) {
    const { calib, eval: held, mixed, budget, ...options } = ctx.config.quantize!;
    const { report } = await quantizeArtifact(input.onnx, {
      calib,
      ...(held && { eval: held }),
      options,
      guard: { budget, mixed },
      out: dir,
      // The last line names the scratch directory, which the cache renames: left out.
      log: (line) => line.startsWith("wrote ") || ctx.log(`  ${line}`),
    });
    const guard = report
      ? `; int8 agreement ${report.candidate.agreement.toFixed(1)}%, top-1 drop ${report.top1Drop.toFixed(2)} points` +
        (report.mixed ? `; mixed: ${report.mixed.fp32Layers.length} layers fp32, drop ${report.mixed.top1Drop.toFixed(2)}` : "")
      : "";
    return { summary: `${options.format} ${options.method}${guard}`, model: { onnx: "model.onnx", manifest: "manifest.json" } };
  },
};
