// npm run bench:prune [-- --arch x3d --preset s --runs 10 --runtime node|web|both]
// Latency in onnxruntime-node and onnxruntime-web (wasm, in Node; 1 thread) of an X3D-S-sized model with random
// weights (BN folded), unpruned and pruned at ratios 0.25 and 0.5 (L1,
// granularity 8), measured in the same run, interleaved (one run of each
// model per round, so load on the machine hits all alike); with parameters
// and multiply-adds.
import { parseArgs } from "node:util";
import { loadModel, type Model } from "../ir/index.ts";
import { COMPILE_PASSES, runPasses } from "../pipeline.ts";
import { zooExport } from "../testing/zoo-export.ts";
import { graphCost } from "./cost.ts";
import { prune } from "./index.ts";
import { median, openTimer, type Runtime } from "../measure/in-process.ts";

const { values } = parseArgs({
  options: {
    arch: { type: "string", default: "x3d" },
    preset: { type: "string", default: "s" },
    runs: { type: "string", default: "10" },
    granularity: { type: "string", default: "8" },
    runtime: { type: "string", default: "both" },
  },
});
const runs = Number(values.runs);
const { modelPath, info } = await zooExport(values.arch, values.preset, "torchscript");
const exported = await loadModel(modelPath);
const model: Model = { ...exported, graph: runPasses(exported.graph, COMPILE_PASSES).graph };
const runtimes: Runtime[] = values.runtime === "both" ? ["node", "web"] : [values.runtime as Runtime];
console.log(`${values.arch} ${values.preset}: input [${info.inputShape}], random weights, BN folded; 1 thread, median of ${runs} runs`);

const ratios = [0, 0.25, 0.5];
const graphs = ratios.map((ratio) => (ratio === 0 ? model.graph : prune(model.graph, { ratio, granularity: Number(values.granularity) }).graph));
const rows: string[][] = [["ratio", "params", "MMACs", ...runtimes.flatMap((r) => [`${r} ms`, "speed-up"])]];
const costs = graphs.map(graphCost);
const cells: string[][] = ratios.map((ratio, i) => [String(ratio), costs[i].params.toLocaleString("en-US"), (costs[i].macs / 1e6).toFixed(1)]);
for (const runtime of runtimes) {
  const timers = await Promise.all(graphs.map((graph) => openTimer({ ...model, graph }, { runtime })));
  const times: number[][] = ratios.map(() => []);
  for (let round = -2; round < runs; round++) {
    for (const [i, timer] of timers.entries()) {
      const ms = await timer.time();
      if (round >= 0) times[i].push(ms); // rounds -2 and -1 warm up
    }
  }
  await Promise.all(timers.map((t) => t.release()));
  const baseline = median(times[0]);
  times.forEach((t, i) => cells[i].push(median(t).toFixed(1), `${(baseline / median(t)).toFixed(2)}x`));
}
rows.push(...cells);
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
for (const r of rows) console.log(r.map((c, i) => c.padStart(widths[i])).join("  "));
