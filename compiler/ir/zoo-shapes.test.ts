// Shape inference on the real zoo exports (tiny presets, random weights,
// both exporters): every value's inferred type must equal the one
// onnxruntime produces, with every size known once the batch is fixed.
import { describe, expect, it } from "vitest";
import { compareWithOnnxruntime, fixSymbolicDims } from "../testing/shape-check.ts";
import { zooExport, type Exporter } from "../testing/zoo-export.ts";
import { loadModel } from "./load.ts";

const ZOO: [arch: string, exporter: Exporter][] = [
  ["x3d", "torchscript"], ["x3d", "dynamo"],
  ["c2d_r50", "torchscript"], ["c2d_r50", "dynamo"],
  ["slowfast_r50", "torchscript"], ["slowfast_r50", "dynamo"],
  ["mvit_v2_s", "torchscript"], ["mvit_v2_s", "dynamo"],
];

describe("shape inference on zoo exports", () => {
  it.each(ZOO)("%s (%s export): every value's type equals onnxruntime's", async (arch, exporter) => {
    const { modelPath } = await zooExport(arch, "tiny", exporter);
    const model = fixSymbolicDims(await loadModel(modelPath), 2);
    const compared = await compareWithOnnxruntime(model, modelPath);
    expect(compared.length).toBe(model.graph.nodes.flatMap((n) => n.outputs).filter(Boolean).length);
    const row = ({ name, inferred }: { name: string; inferred?: { dtype: string; shape?: readonly unknown[] } }) =>
      ({ name, dtype: inferred?.dtype, shape: inferred?.shape });
    expect(compared.map(row)).toEqual(compared.map(({ name, actual }) => ({ name, ...actual })));
  }, 300_000);
});
