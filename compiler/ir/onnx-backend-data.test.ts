// The onnx Python package's test models (.venv, `npm run setup:python`):
// - the model files its wheel ships (backend/test/data: pytorch-converted,
//   pytorch-operator, simple, light, real), and
// - its node test cases, which the wheel ships as generators only:
//   testing/onnx-node-cases.py writes those for the ops shape inference
//   knows into .cache/onnx-node-cases/<onnx version>/.
// Every model must load, validate and round-trip (encode o decode is a fixed
// point, byte for byte); where shape inference knows every op, the inferred
// output types must equal the reference outputs', and onnxruntime must run
// the saved model to the reference outputs (or refuse it exactly as it
// refuses the original file).
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { describe, expect, it } from "vitest";
import { runModel } from "../runtime.ts";
import { nodeCases, type NodeCase } from "../testing/node-cases.ts";
import { OnnxError } from "./errors.ts";
import { isDefaultDomain } from "./graph.ts";
import { decodeModel } from "./load.ts";
import { encodeModel } from "./save.ts";
import { SHAPE_RULES } from "./shape-rules.ts";
import { formatType } from "./printer.ts";
import { inferTypes } from "./shapes.ts";
import { decodeTensor } from "./tensor.ts";
import type { Graph, Model, Tensor } from "./types.ts";

const venvLib = join(import.meta.dirname, "../../.venv/lib");
const python = existsSync(venvLib) ? readdirSync(venvLib).find((d) => d.startsWith("python3")) : undefined;
const dataDir = join(venvLib, python ?? "python3", "site-packages/onnx/backend/test/data");

/** Cases laid out as <suite>/<case>/model.onnx + test_data_set_0/, or <suite>/<name>.onnx + <name>_output_0.pb. */
function shippedCases(): NodeCase[] {
  if (!existsSync(dataDir)) return [];
  return readdirSync(dataDir).flatMap((suite) => {
    const dir = join(dataDir, suite);
    return readdirSync(dir).flatMap((entry): NodeCase[] => {
      if (entry.endsWith(".onnx")) {
        return [{ name: `${suite}/${entry}`, model: join(dir, entry), inputs: [], outputs: [] }];
      }
      const model = join(dir, entry, "model.onnx");
      if (!existsSync(model)) return [];
      const data = join(dir, entry, "test_data_set_0");
      const files = existsSync(data) ? readdirSync(data).sort() : [];
      const pick = (prefix: string) => files.filter((f) => f.startsWith(prefix)).map((f) => join(data, f));
      return [{ name: `${suite}/${entry}`, model, inputs: pick("input_"), outputs: pick("output_") }];
    });
  });
}

const knownOps = (m: Model) => m.graph.nodes.every((n) => isDefaultDomain(n) && n.op in SHAPE_RULES);

type Outcome = "newer" | "loaded" | "inferred" | "ran" | "refused by onnxruntime";

interface Walked {
  readonly outcome: Outcome;
  /** What went wrong, if anything. */
  readonly problem?: string;
}

/** Walks one case: how far it got, and the first problem. */
async function walk(c: NodeCase): Promise<Walked> {
  const bytes = readFileSync(c.model);
  let model: Model;
  try {
    model = decodeModel(bytes, c.model);
  } catch (e) {
    // Newer than what onnxruntime 1.30 loads: refused with a clear message.
    if (e instanceof OnnxError && e.problems.every((p) => /^unsupported (IR version|opset)/.test(p))) return { outcome: "newer" };
    return { outcome: "loaded", problem: `does not load: ${(e as Error).message}` };
  }
  const saved = encodeModel(model);
  if (!isDeepStrictEqual(decodeModel(saved, c.model), model)) return { outcome: "loaded", problem: "decode(encode(model)) differs" };
  if (!Buffer.from(encodeModel(decodeModel(saved, c.model))).equals(saved)) return { outcome: "loaded", problem: "re-encoding changed bytes" };
  if (!knownOps(model) || c.outputs.length === 0) return { outcome: "loaded" };

  const expected = c.outputs.map((f) => decodeTensor(readFileSync(f)));
  let types;
  try {
    types = inferTypes(withIntegerInputsKnown(model.graph, c.inputs), c.model);
  } catch (e) {
    return { outcome: "loaded", problem: (e as Error).message };
  }
  for (const [i, o] of model.graph.outputs.entries()) {
    const [want, got] = [expected[i], types.get(o.name)];
    if (want.dtype !== got?.dtype || want.dims.join() !== got.shape?.join()) {
      return { outcome: "loaded", problem: `%${o.name}: inferred ${formatType(got)}, expected ${want.dtype}[${want.dims}]` };
    }
  }

  const inputs = c.inputs.map((f, i) => ({ ...decodeTensor(readFileSync(f)), name: realInputs(model)[i] }));
  const [original, again] = await Promise.all([
    runModel(bytes, inputs).catch((e: Error) => e.message),
    runModel(saved, inputs).catch((e: Error) => e.message),
  ]);
  if (typeof original === "string" || typeof again === "string") {
    if (original === again) return { outcome: "refused by onnxruntime" };
    return { outcome: "inferred", problem: `onnxruntime: original ${typeof original === "string" ? original : "ran"}, saved ${typeof again === "string" ? again : "ran"}` };
  }
  for (const [i, t] of again.entries()) {
    const wrong = mismatch(t, expected[i]);
    if (wrong) return { outcome: "inferred", problem: `%${t.name}: ${wrong}` };
  }
  return { outcome: "ran" };
}

/** "" when `actual` matches `expected` (rtol 1e-3, atol 1e-5; NaN matches NaN), else what differs. */
function mismatch(actual: Tensor, expected: Tensor): string {
  if (actual.dims.join() !== expected.dims.join()) return `shape [${actual.dims}] vs [${expected.dims}]`;
  let a = Array.from(actual.data as ArrayLike<number | bigint | string>);
  let b = Array.from(expected.data as ArrayLike<number | bigint | string>);
  if (actual.dtype === "float16") [a, b] = [a, b].map((xs) => xs.map((x) => halfToNumber(x as number)));
  const float = actual.dtype === "float32" || actual.dtype === "float64" || actual.dtype === "float16";
  const at = a.findIndex((x, i) => {
    const y = b[i];
    if (!float || typeof x !== "number" || typeof y !== "number") return x !== y;
    if (Number.isNaN(x) || Number.isNaN(y)) return Number.isNaN(x) !== Number.isNaN(y);
    return !(Math.abs(x - y) <= 1e-5 + 1e-3 * Math.abs(y)) && x !== y;
  });
  return at < 0 ? "" : `element ${at}: ${a[at]} vs ${b[at]}`;
}

/**
 * The graph with its integer inputs (shapes, axes, indices in node cases)
 * turned into initializers holding the case's values: shape inference sees
 * them as it sees the constants an exporter writes.
 */
function withIntegerInputsKnown(graph: Graph, inputFiles: readonly string[]): Graph {
  const names = realInputs({ graph } as Model);
  const known = inputFiles
    .map((f, i) => ({ ...decodeTensor(readFileSync(f)), name: names[i] }))
    .filter((t) => t.dtype === "int64" || t.dtype === "int32");
  const isKnown = new Set(known.map((t) => t.name));
  return { ...graph, inputs: graph.inputs.filter((i) => !isKnown.has(i.name)), initializers: [...graph.initializers, ...known] };
}

/** An IEEE half-precision bit pattern as a number. */
function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return exponent ? sign * 2 ** (exponent - 15) * (1 + fraction / 1024) : sign * 2 ** -14 * (fraction / 1024);
}

/** Graph inputs that are not initializers (IR < 4 lists both). */
function realInputs(model: Model): string[] {
  const initializers = new Set(model.graph.initializers.map((t) => t.name));
  return model.graph.inputs.filter((i) => !initializers.has(i.name)).map((i) => i.name);
}

/** Case names by outcome, and "case: problem" lines. */
async function walkAll(cases: readonly NodeCase[]): Promise<{ outcomes: Map<Outcome, string[]>; problems: string[] }> {
  const outcomes = new Map<Outcome, string[]>();
  const problems: string[] = [];
  for (const c of cases) {
    const { outcome, problem } = await walk(c);
    outcomes.set(outcome, [...(outcomes.get(outcome) ?? []), c.name]);
    if (problem) problems.push(`${c.name}: ${problem}`);
  }
  return { outcomes, problems };
}

const tally = (outcomes: Map<Outcome, string[]>) => Object.fromEntries([...outcomes].map(([k, v]) => [k, v.length]));

describe("ONNX backend test data shipped in the onnx wheel", () => {
  const cases = shippedCases();

  it("is installed", () => {
    expect(existsSync(dataDir), `${dataDir} is missing: run \`npm run setup:python\``).toBe(true);
    expect(cases.length).toBeGreaterThan(100);
  });

  it("every model loads and round-trips; known ops infer the reference shapes and run to the reference outputs", async () => {
    const { outcomes, problems } = await walkAll(cases);
    console.log(`onnx backend data: ${cases.length} models`, tally(outcomes));
    expect(problems).toEqual([]);
    expect(outcomes.get("newer")).toBeUndefined();
    expect((outcomes.get("ran") ?? []).length).toBeGreaterThan(40);
    expect((outcomes.get("ran") ?? []).length + (outcomes.get("refused by onnxruntime") ?? []).length).toBeGreaterThan(50);
  });
});

describe("ONNX node test cases (generated from the onnx wheel)", () => {
  const ops = Object.keys(SHAPE_RULES);
  const { index, cases } = nodeCases(ops);

  it("are generated for every supported op", () => {
    const skipped = new Map<string, number>();
    for (const c of index.cases.filter((c) => c.skipped === "op not supported")) {
      for (const op of c.ops.filter((o) => !ops.includes(o))) skipped.set(op, (skipped.get(op) ?? 0) + 1);
    }
    const byOp = [...skipped].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([op, n]) => `${op} ${n}`);
    console.log(
      `onnx ${index.onnx} node cases: ${index.cases.length} walked, ${cases.length} with only supported ops, ` +
        `${index.cases.length - cases.length} skipped (${index.cases.filter((c) => c.skipped && c.skipped !== "op not supported").length} for non-tensor values)\n` +
        `skipped because an op is not supported (cases per op): ${byOp.join(", ")}`,
    );
    const covered = new Set(cases.flatMap((c) => index.cases.find((i) => i.name === c.name)!.ops));
    // Ops with no node case of their own, or only cases onnxruntime 1.30 cannot load, are listed here.
    const uncovered = ops.filter((op) => !covered.has(op));
    console.log(`supported ops without a node case: ${uncovered.join(", ")}`);
    expect(cases.length).toBeGreaterThan(300);
  });

  it("load and round-trip; shapes are inferred and onnxruntime runs the saved models to the expected outputs", async () => {
    const { outcomes, problems } = await walkAll(cases);
    console.log(`node cases with supported ops: ${cases.length}`, tally(outcomes));
    expect(problems).toEqual([]);
    expect((outcomes.get("ran") ?? []).length).toBeGreaterThan(250);
    expect(outcomes.get("loaded")).toBeUndefined();
  }, 300_000);
});
