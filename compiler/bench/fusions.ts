// Which graph rewrites make onnxruntime-web faster? Runs each candidate's
// model and the model without it in onnxruntime-web's wasm backend (single
// thread, default session options as the Worker uses them) in this Node
// process, interleaved in the same loop, and prints median latency ratios
// (candidate / baseline; below 1 is faster) plus session-creation time.
// Each round runs every variant once, in a rotating order; the ratio is the
// median over rounds of that round's candidate/baseline time, which keeps
// slow drifts of the other load on a shared machine out of it; the ratio of
// the fastest runs is printed too. Outputs are checked against
// the baseline first.
//
//   npx tsx compiler/bench/fusions.ts [--runs 30] [--preset tiny|xs|s]
import { parseArgs } from "node:util";
import * as ort from "onnxruntime-web/wasm";
import {
  encodeModel, findSwish, loadModel, makeNode, type Graph, type Model, type Node,
} from "../ir/index.ts";
import { canonicalizeActivations } from "../passes/canonicalize-activations.ts";
import { eliminateDeadNodes } from "../passes/eliminate-dead-nodes.ts";
import { runPasses, COMPILE_PASSES } from "../pipeline.ts";
import { seededRandom, uniform } from "../random.ts";
import { fixSymbolicDims } from "../testing/shape-check.ts";
import { zooExport, type Exporter } from "../testing/zoo-export.ts";

interface Candidate {
  readonly name: string;
  readonly apply: (model: Model) => Model;
}

const passes = (model: Model, list: Parameters<typeof runPasses>[1]): Model => ({ ...model, graph: runPasses(model.graph, list).graph });

/**
 * Swish as onnxruntime's contrib op QuickGelu(alpha=1) = x * sigmoid(x): one
 * kernel instead of two. (onnxruntime's own optimizer does this when it
 * creates a session, so this measures whether doing it ahead of time helps.)
 */
function swishToQuickGelu(model: Model): Model {
  const swish = findSwish(model.graph);
  const mulAt = new Map(swish.map((s) => [s.mul, s]));
  const sigmoids = new Set(swish.map((s) => s.sigmoid));
  const nodes = model.graph.nodes.flatMap((n, i): Node[] => {
    if (sigmoids.has(i)) return [];
    const s = mulAt.get(i);
    if (!s) return [n];
    return [{ ...makeNode("QuickGelu", [s.input], [s.output], { alpha: { type: "float", value: 1 } }, n.name), domain: "com.microsoft" }];
  });
  const graph: Graph = { ...model.graph, nodes };
  return { ...model, graph, opsetImports: [...model.opsetImports, { domain: "com.microsoft", version: 1 }] };
}

const CANDIDATES: readonly Candidate[] = [
  { name: "canonicalize-activations (ReduceMean -> GlobalAveragePool)", apply: (m) => passes(m, [canonicalizeActivations, eliminateDeadNodes]) },
  { name: "Swish -> com.microsoft.QuickGelu", apply: swishToQuickGelu },
];

async function session(bytes: Uint8Array): Promise<{ session: ort.InferenceSession; createMs: number }> {
  const start = performance.now();
  const s = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
  return { session: s, createMs: performance.now() - start };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const quartiles = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return `${sorted[Math.floor(xs.length / 4)].toFixed(3)}-${sorted[Math.floor((3 * xs.length) / 4)].toFixed(3)}`;
};

async function bench(arch: string, preset: string, exporter: Exporter, runs: number): Promise<void> {
  const { modelPath } = await zooExport(arch, preset, exporter);
  const base = passes(fixSymbolicDims(await loadModel(modelPath), 1), COMPILE_PASSES);
  const variants = [{ name: "baseline (compile passes)", model: base }, ...CANDIDATES.map((c) => ({ name: c.name, model: c.apply(base) }))];
  const input = base.graph.inputs[0];
  const dims = (input.type?.shape ?? []) as number[];
  const feeds = { [input.name]: new ort.Tensor("float32", uniform(seededRandom(1), dims.reduce((a, b) => a * b, 1)), dims) };
  const sessions: { name: string; model: Model; session: ort.InferenceSession; createMs: number; times: number[] }[] = [];
  for (const v of variants) sessions.push({ ...v, ...(await session(encodeModel(v.model))), times: [] as number[] });
  const out = base.graph.outputs[0].name;
  const reference = (await sessions[0].session.run(feeds))[out].data as Float32Array;
  for (const s of sessions.slice(1)) {
    const got = (await s.session.run(feeds))[out].data as Float32Array;
    const diff = Math.max(...got.map((v, i) => Math.abs(v - reference[i])));
    if (!(diff < 1e-4)) throw new Error(`${s.name}: outputs differ from the baseline by ${diff}`);
  }
  for (const s of sessions) for (let i = 0; i < 3; i++) await s.session.run(feeds); // warm up
  for (let r = 0; r < runs; r++) {
    for (let k = 0; k < sessions.length; k++) {
      const s = sessions[(k + r) % sessions.length];
      const start = performance.now();
      await s.session.run(feeds);
      s.times.push(performance.now() - start);
    }
  }
  console.log(`\n${arch} ${preset}, ${exporter} export, ${dims.join("x")}, ${runs} rounds (onnxruntime-web ${ort.env.versions.web}, wasm, 1 thread):`);
  for (const s of sessions) {
    const ratio = median(s.times.map((t, r) => t / sessions[0].times[r]));
    console.log(
      `  ${s.name.padEnd(58)} ${String(s.model.graph.nodes.length).padStart(4)} nodes  median ${median(s.times).toFixed(2).padStart(7)} ms  ` +
        `min ${Math.min(...s.times).toFixed(2).padStart(7)} ms (ratio ${(Math.min(...s.times) / Math.min(...sessions[0].times)).toFixed(3)})  ` +
        `ratio ${ratio.toFixed(3)} (p25-p75 ${quartiles(s.times.map((t, r) => t / sessions[0].times[r]))})  session ${s.createMs.toFixed(0)} ms`,
    );
    await s.session.release();
  }
}

const { values } = parseArgs({ options: { runs: { type: "string", default: "30" }, preset: { type: "string", default: "tiny" } } });
ort.env.wasm.numThreads = 1;
for (const exporter of ["torchscript", "dynamo"] as const) await bench("x3d", values.preset, exporter, Number(values.runs));
