import { describe, expect, it } from "vitest";
import { GraphBuilder, attr, findSqueezeExcite, findSwish, loadModel, makeModel, printGraph, type Model } from "../ir/index.ts";
import { seededRandom, uniform } from "../random.ts";
import { applyPass } from "../testing/apply-pass.ts";
import { outputDifference } from "../testing/parity.ts";
import { fixSymbolicDims } from "../testing/shape-check.ts";
import { zooExport } from "../testing/zoo-export.ts";
import { canonicalizeActivations } from "./canonicalize-activations.ts";

const ops = (m: Model) => m.graph.nodes.map((n) => n.op);
const countOf = (m: Model, op: string) => ops(m).filter((o) => o === op).length;

/** x -> SE block (pool, 1x1 conv, Relu, 1x1 conv, Sigmoid, Mul) with the given pool and Mul order, then Swish. */
function seModel(options: { reduceMean: boolean; gateFirst: boolean; sigmoidFirst: boolean; opset?: number }): Model {
  const random = seededRandom(4);
  const b = new GraphBuilder("se");
  const x = b.input("x", "float32", [1, 4, 2, 3, 3]);
  const w = (name: string, dims: number[]) => b.initializer(name, "float32", dims, uniform(random, dims.reduce((p, d) => p * d, 1)));
  const pool = options.reduceMean
    ? options.opset === 18
      ? b.node("ReduceMean", [x, b.initializer("axes", "int64", [3], BigInt64Array.of(-3n, -2n, -1n))])
      : b.node("ReduceMean", [x], { axes: attr.ints([2, 3, 4]), keepdims: attr.int(1) })
    : b.node("GlobalAveragePool", [x]);
  const hidden = b.node("Relu", [b.node("Conv", [pool, w("w1", [2, 4, 1, 1, 1]), w("b1", [2])])]);
  const gate = b.node("Sigmoid", [b.node("Conv", [hidden, w("w2", [4, 2, 1, 1, 1]), w("b2", [4])])]);
  const scaled = b.node("Mul", options.gateFirst ? [gate, x] : [x, gate]);
  const s = b.node("Sigmoid", [scaled]);
  b.node("Mul", options.sigmoidFirst ? [s, scaled] : [scaled, s], {}, ["y"]);
  b.output("y", "float32", [1, 4, 2, 3, 3]);
  return makeModel(b.build(), [{ domain: "", version: options.opset ?? 17 }]);
}

describe("canonicalizeActivations", () => {
  it("puts x first in Swish and SE Muls and makes spatial ReduceMeans GlobalAveragePool (onnxruntime parity)", async () => {
    for (const opset of [17, 18]) {
      const before = seModel({ reduceMean: true, gateFirst: true, sigmoidFirst: true, opset });
      expect(findSwish(before.graph)).toEqual([]);
      const { after, summary } = applyPass(canonicalizeActivations, before);
      expect(summary).toBe("1 Swish Mul and 1 squeeze-excite gate reordered, 1 ReduceMean made GlobalAveragePool; 1 squeeze-excite block");
      expect(ops(after)).toEqual(["GlobalAveragePool", "Conv", "Relu", "Conv", "Sigmoid", "Mul", "Sigmoid", "Mul"]);
      expect(after.graph.nodes[0].inputs).toEqual(["x"]);
      expect(findSwish(after.graph)).toEqual([{ input: "mul5", output: "y", sigmoid: 6, mul: 7 }]);
      expect(findSqueezeExcite(after.graph)).toEqual([{
        input: "x", output: "mul5", pool: 0, reduce: 1, activation: 2, expand: 3, gate: 4, scale: 5, nodes: [0, 1, 2, 3, 4, 5],
      }]);
      // The printer recognises both.
      const printed = printGraph(after.graph).split("\n");
      expect(printed).toContain("  %mul5 = Mul(%x, %sigmoid4)  # Mul_5 [squeeze-excite]");
      expect(printed).toContain("  %y = Mul(%mul5, %sigmoid6) : float32[1,4,2,3,3]  # Mul_7 [swish]");
      expect(await outputDifference(before, after)).toBeLessThan(1e-6);
    }
  });

  it("leaves what is canonical already, and a Sigmoid something else also reads", () => {
    const canonical = seModel({ reduceMean: false, gateFirst: false, sigmoidFirst: false });
    const { after, summary } = applyPass(canonicalizeActivations, canonical);
    expect(after.graph).toEqual(canonical.graph);
    expect(summary).toBe("0 Swish Muls and 0 squeeze-excite gates reordered, 0 ReduceMeans made GlobalAveragePool; 1 squeeze-excite block");

    const b = new GraphBuilder("shared");
    const x = b.input("x", "float32", [2, 3]);
    const s = b.node("Sigmoid", [x]);
    b.node("Add", [b.node("Mul", [s, x]), s], {}, ["y"]);
    b.output("y", "float32", [2, 3]);
    const shared = makeModel(b.build());
    expect(applyPass(canonicalizeActivations, shared).after.graph).toEqual(shared.graph);
  });

  it.each(["torchscript", "dynamo"] as const)("gives the %s export of the tiny X3D one form: every SE block found (onnxruntime parity)", async (exporter) => {
    const before = fixSymbolicDims(await loadModel((await zooExport("x3d", "tiny", exporter)).modelPath), 1);
    const { after, summary } = applyPass(canonicalizeActivations, before);
    console.log(`x3d tiny ${exporter}: ${summary}`);
    expect(countOf(after, "ReduceMean")).toBe(0);
    expect(countOf(after, "GlobalAveragePool")).toBe(countOf(before, "GlobalAveragePool") + countOf(before, "ReduceMean"));
    // Tiny X3D: 7 SE blocks and 11 Swishes, whatever the exporter wrote.
    expect(findSqueezeExcite(after.graph)).toHaveLength(7);
    expect(findSwish(after.graph)).toHaveLength(11);
    expect(await outputDifference(before, after)).toBeLessThan(1e-5);
  });
});
