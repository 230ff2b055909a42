// npm run bench:compile -- <run dir | model.onnx> <compile.json> [--out DIR]
// Runs the staged compile (cached stages are reused) and prints the teacher
// and the compiled model side by side: val top-1 (the engine's, on the
// validation videos), parameters, multiply-adds, file size and latency in
// onnxruntime-web (wasm, one thread, fp32; median of 5 after a warm-up).
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { readInputArtifact } from "../artifact.ts";
import { isUserError } from "../errors.ts";
import { batchOne, decodeModel, graphCost, inferTypes, type Model } from "../ir/index.ts";
import { measureLatency } from "../measure/in-process.ts";
import { readCompileConfig } from "./config.ts";
import { runStages } from "./run.ts";
import { pct } from "./stages.ts";

async function measure(path: string): Promise<{ model: Model; bytes: number; params: number; macs: number; ms: number }> {
  const bytes = await readFile(path);
  const model = batchOne(decodeModel(bytes, path));
  const cost = graphCost(model.graph, inferTypes(model.graph));
  await measureLatency(model, { runtime: "web", runs: 1, warmup: 0 }); // wasm start-up and V8 tier-up
  return { model, bytes: bytes.length, params: cost.parameters, macs: cost.macs, ms: await measureLatency(model, { runtime: "web", runs: 5, warmup: 1 }) };
}

async function main(argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: { out: { type: "string" } } });
  if (positionals.length !== 2) throw new Error("usage: npm run bench:compile -- <run dir | model.onnx> <compile.json> [--out DIR]");
  const [input, configPath] = positionals;
  const result = await runStages(input, await readCompileConfig(configPath), { out: values.out });
  const teacher = await readInputArtifact(input);
  const trained = result.stages.filter((s) => s.record.top1 !== undefined);
  const teacherTop1 = trained[0]?.record.teacherTop1;
  const studentTop1 = trained.at(-1)?.record.top1;
  const [t, s] = [await measure(teacher.modelPath), await measure(result.modelPath)];
  const rows: [string, string, string][] = [
    ["", "teacher", "compiled"],
    ["architecture", teacher.manifest.architecture, (await readInputArtifact(result.modelPath)).manifest.architecture],
    ["val top-1", pct(teacherTop1), pct(studentTop1)],
    ["parameters (ONNX)", t.params.toLocaleString("en-US"), s.params.toLocaleString("en-US")],
    ["multiply-adds", t.macs.toLocaleString("en-US"), s.macs.toLocaleString("en-US")],
    ["file bytes", t.bytes.toLocaleString("en-US"), s.bytes.toLocaleString("en-US")],
    ["wasm ms (1 thread)", t.ms.toFixed(1), s.ms.toFixed(1)],
  ];
  const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) console.log(`${r[0].padEnd(w[0])}  ${r[1].padStart(w[1])}  ${r[2].padStart(w[2])}`);
  const keeps = teacherTop1 && studentTop1 !== undefined ? `${((100 * studentTop1) / teacherTop1).toFixed(0)}% of the teacher's top-1` : "top-1 n/a";
  console.log(`compiled: ${keeps} at ${((100 * s.macs) / t.macs).toFixed(1)}% of its multiply-adds, ${(t.ms / s.ms).toFixed(1)}x faster in wasm`);
}

main(process.argv.slice(2)).catch((e: unknown) => {
  if (isUserError(e)) {
    console.error(`error: ${e.message}`);
    process.exit(1);
  }
  throw e;
});
