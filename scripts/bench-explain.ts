// `npm run bench:explain`: what ?explain=1 (and ?thumbnails=1) cost.
//
// 1. The model: onnxruntime-web (the Worker's wasm build, one thread, in this
//    process) on a random clip, for the bundled model (X3D, 8×64²) and an
//    X3D-S-sized student (13×160², random weights): without the class map,
//    with it but fetching the logits only, and fetching both. Multiply-adds of
//    each. Interleaved rounds, medians.
// 2. Over HTTP: POST /v1/classify of a 10 s 720p High-profile MP4 to the
//    Worker bundle in workerd (Miniflare, no inspector), plain, explain=1,
//    thumbnails=1 and both, interleaved; p50 of the wall time seen by the
//    client over loopback (workerd's clock only moves on I/O, so the answer's
//    own timing is coarse), the answer's inference time and size; ratios
//    against plain.
//
//   npm run bench:explain [-- --runs 20]
import { rmSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { batchOne, graphCost, inferTypes, type Model } from "../compiler/ir/index.ts";
import { median, openTimer, type Timer } from "../compiler/measure/in-process.ts";
import { exposeClassMap } from "../compiler/passes/expose-class-map.ts";
import { COMPILE_PASSES, runPasses } from "../compiler/pipeline.ts";
import { buildX3d } from "../compiler/student/x3d.ts";
import { bundledModel } from "../compiler/testing/bundled-model.ts";
import { bundleWorker, startBundledWorker } from "../worker/scripts/local-worker.ts";
import { makeVideo } from "./bench-videos.ts";

const { values } = parseArgs({ options: { runs: { type: "string", default: "20" } } });
const runs = Number(values.runs);
if (!(runs >= 3)) {
  console.error("usage: npm run bench:explain [-- --runs N (at least 3)]");
  process.exit(2);
}
const root = new URL("..", import.meta.url).pathname;
const mmacs = (m: Model) => {
  const fixed = batchOne(m).graph;
  return (graphCost(fixed, inferTypes(fixed)).macs / 1e6).toFixed(2);
};

async function modelCost(name: string, plain: Model, withMap: Model, rounds: number): Promise<void> {
  const variants: [string, Model, string[] | undefined][] = [
    ["no class map", plain, undefined],
    ["class map, logits fetched", withMap, ["logits"]],
    ["class map, both fetched", withMap, undefined],
  ];
  const timers: Timer[] = [];
  for (const [, model, fetches] of variants) timers.push(await openTimer(model, { runtime: "web", fetches }));
  const times: number[][] = variants.map(() => []);
  for (const t of timers) await t.time();
  // A rotating order: no variant always runs right after another.
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < timers.length; k++) {
      const i = (k + r) % timers.length;
      times[i].push(await timers[i].time());
    }
  }
  await Promise.all(timers.map((t) => t.release()));
  const base = median(times[0]);
  console.log(`\n${name}`);
  console.log(`  ${"variant".padEnd(28)}${"MMACs".padStart(10)}${"p50 ms".padStart(10)}${"× plain".padStart(9)}`);
  variants.forEach(([label, model], i) => {
    const p50 = median(times[i]);
    console.log(`  ${label.padEnd(28)}${mmacs(model).padStart(10)}${p50.toFixed(2).padStart(10)}${(p50 / base).toFixed(3).padStart(9)}`);
  });
}

console.log(`explain cost: onnxruntime-web 1.30 (wasm, 1 thread) in Node ${process.version}, ${cpus().length} cores`);
const bundled = bundledModel({ classMap: true });
await modelCost("bundled model: X3D (width 0.5), 8×64², 8 classes", bundledModel({ classMap: false }), bundled, runs);
// X3D-S: width 2.0, depth 2.2, 13×160², head 2048; 10 classes.
const xs = buildX3d({ widthFactor: 2, depthFactor: 2.2, frames: 13, crop: 160, headDimOut: 2048 }, 10, "random", 1);
const xsFolded: Model = { ...xs, graph: runPasses(xs.graph, COMPILE_PASSES).graph };
await modelCost("X3D-S: 13×160², 10 classes (random weights)", xsFolded, { ...xsFolded, graph: exposeClassMap.run(xsFolded.graph).graph }, Math.max(3, Math.round(runs / 4)));

// ---- Over HTTP -------------------------------------------------------------
const video = makeVideo("720p", join(root, ".cache", "bench-load"));
const dist = join(root, ".cache", "bench-explain", "dist");
rmSync(dist, { recursive: true, force: true });
bundleWorker(dist, root);
const mf = startBundledWorker(dist, "index.js", { quiet: true });
const url = await mf.ready;

interface Answer {
  timing: Record<string, number>;
}
const queries: [string, string][] = [
  ["plain", ""],
  ["explain=1", "explain=1"],
  ["thumbnails=1", "thumbnails=1"],
  ["explain=1&thumbnails=1", "explain=1&thumbnails=1"],
];
const samples = queries.map(() => [] as { wall: number; inference: number; bytes: number }[]);
try {
  for (let r = -1; r < runs; r++) {
    for (const [i, [, query]] of queries.entries()) {
      const t0 = performance.now();
      const res = await fetch(new URL(`/v1/classify?${query}`, url), { method: "POST", body: video.slice().buffer, headers: { "content-type": "video/mp4" } });
      const text = await res.text();
      const wall = performance.now() - t0;
      if (res.status !== 200) throw new Error(`/v1/classify?${query} answered ${res.status}: ${text.slice(0, 300)}`);
      const a = JSON.parse(text) as Answer;
      // r = -1 warms the isolate (model load, first decode) and is not counted.
      if (r >= 0) samples[i].push({ wall, inference: a.timing.inferenceMs, bytes: text.length });
    }
  }
} finally {
  await mf.dispose();
}
const p50 = (i: number, key: "wall" | "inference" | "bytes") => median(samples[i].map((s) => s[key]));
console.log(`\nPOST /v1/classify, 720p 10 s MP4 (${(video.length / 1048576).toFixed(2)} MiB), bundled model, workerd (Miniflare), ${runs} requests each, p50:`);
console.log(`  ${"query".padEnd(26)}${"wall ms".padStart(9)}${"× plain".padStart(9)}${"inference ms".padStart(14)}${"answer KiB".padStart(12)}`);
queries.forEach(([label], i) => {
  console.log(
    `  ${label.padEnd(26)}${p50(i, "wall").toFixed(1).padStart(9)}${(p50(i, "wall") / p50(0, "wall")).toFixed(3).padStart(9)}` +
      `${p50(i, "inference").toFixed(1).padStart(14)}${(p50(i, "bytes") / 1024).toFixed(1).padStart(12)}`,
  );
});
