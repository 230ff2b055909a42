// The model files shipped in the Python onnx package's backend test data
// (.venv, created by `npm run setup:python`): every one must load, validate
// and round-trip; those using only ops shape inference knows must infer the
// shapes of the reference outputs, and run in onnxruntime after being saved.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { maxAbsDiff, runModel } from "../runtime.ts";
import { isDefaultDomain } from "./graph.ts";
import { decodeModel, loadModel } from "./load.ts";
import { encodeModel } from "./save.ts";
import { SHAPE_RULES } from "./shape-rules.ts";
import { inferTypes } from "./shapes.ts";
import { decodeTensor } from "./tensor.ts";
import type { Model } from "./types.ts";

const venvLib = join(import.meta.dirname, "../../.venv/lib");
const python = existsSync(venvLib) ? readdirSync(venvLib).find((d) => d.startsWith("python3")) : undefined;
const dataDir = join(venvLib, python ?? "python3", "site-packages/onnx/backend/test/data");

interface Case {
  readonly name: string;
  readonly model: string;
  /** input_i.pb / output_i.pb of the first test data set, where the case has one. */
  readonly inputs: string[];
  readonly outputs: string[];
}

/** Cases laid out as <suite>/<case>/model.onnx + test_data_set_0/, or <suite>/<name>.onnx + <name>_output_0.pb. */
function findCases(): Case[] {
  if (!existsSync(dataDir)) return [];
  return readdirSync(dataDir).flatMap((suite) => {
    const dir = join(dataDir, suite);
    return readdirSync(dir).flatMap((entry): Case[] => {
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

const cases = findCases();

const knownOps = (m: Model) => m.graph.nodes.every((n) => isDefaultDomain(n) && n.op in SHAPE_RULES);

describe("ONNX backend test data", () => {
  it("is installed", () => {
    expect(existsSync(dataDir), `${dataDir} is missing: run \`npm run setup:python\``).toBe(true);
    expect(cases.length).toBeGreaterThan(100);
  });

  it.each(cases)("$name loads and round-trips", async ({ model: path }) => {
    const model = await loadModel(path);
    expect(decodeModel(encodeModel(model), path)).toEqual(model);
  });

  it("checks shapes, and runs saved models like the originals, where shape inference knows every op", async () => {
    let inferred = 0;
    let ran = 0;
    for (const c of cases.filter((c) => c.outputs.length > 0)) {
      const bytes = readFileSync(c.model);
      const model = decodeModel(bytes, c.model);
      if (!knownOps(model)) continue;
      const expected = c.outputs.map((f) => decodeTensor(readFileSync(f)));
      const types = inferTypes(model.graph, c.model);
      const shapes = (dims: (o: { name: string }, i: number) => unknown) => model.graph.outputs.map((o, i) => [c.name, o.name, dims(o, i)]);
      expect(shapes((o) => types.get(o.name)?.shape)).toEqual(shapes((_, i) => expected[i].dims));
      inferred++;

      // The saved model must behave exactly like the original in onnxruntime,
      // which no longer implements some opset-6 kernels: then both must fail alike.
      const inputs = c.inputs.map((f, i) => ({ ...decodeTensor(readFileSync(f)), name: realInputs(model)[i] }));
      const [original, saved] = await Promise.all([
        runModel(bytes, inputs).catch((e: Error) => e.message),
        runModel(encodeModel(model), inputs).catch((e: Error) => e.message),
      ]);
      expect([c.name, saved]).toEqual([c.name, original]);
      if (typeof original === "string") continue;
      expect(original.map((t, i) => [c.name, maxAbsDiff(t, expected[i]) < 1e-3])).toEqual(original.map(() => [c.name, true]));
      ran++;
    }
    expect(inferred).toBeGreaterThan(50);
    expect(ran).toBeGreaterThan(40);
  });
});

/** Graph inputs that are not initializers (IR < 4 lists both). */
function realInputs(model: Model): string[] {
  const initializers = new Set(model.graph.initializers.map((t) => t.name));
  return model.graph.inputs.filter((i) => !initializers.has(i.name)).map((i) => i.name);
}
