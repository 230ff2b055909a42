// Static post-training int8 quantization: calibrate once, then build the QDQ,
// QOperator or weight-only form with the chosen range method.
//   const calibration = await calibrate(model, clips.map((c) => c.input));
//   const { model: int8, summary, ranges } = quantize(model, calibration, { method: "entropy", format: "qdq" });
import { z } from "zod";
import { CompileError } from "../errors.ts";
import { defaultOpset, type Graph, type Model } from "../ir/index.ts";
import { calibrationRanges, type Calibration } from "./calibrate.ts";
import { ActivationType } from "./params.ts";
import { nodeKey, planQuantization, type QuantizeSpec } from "./plan.ts";
import { toQdq } from "./qdq.ts";
import { opsetsFor, toQOperator } from "./qoperator.ts";
import { RangeMethod, type Range } from "./ranges.ts";
import { toWeightOnly } from "./weight-only.ts";

export { calibrate, type Calibration } from "./calibrate.ts";
export { readClips, type Clip } from "./clips.ts";

export const QuantizeFormat = z.enum(["qdq", "qoperator", "weight-only"]);
export type QuantizeFormat = z.infer<typeof QuantizeFormat>;

export const QuantizeOptions = z.object({
  method: RangeMethod.default("entropy"),
  /** For method "percentile": the percentile of |x| kept. */
  percentile: z.number().gt(50).max(100).default(99.999),
  format: QuantizeFormat.default("qdq"),
  activations: ActivationType.default("uint8"),
  /** 7-bit weights, for U8S8 kernels on CPUs without VNNI. */
  reduceRange: z.boolean().default(false),
  /** Node names (or Op#index for unnamed nodes) kept in fp32. */
  exclude: z.array(z.string()).default([]),
});
export type QuantizeOptions = z.input<typeof QuantizeOptions>;

export interface QuantizeResult {
  readonly model: Model;
  readonly graph: Graph;
  readonly summary: string;
  readonly ranges: ReadonlyMap<string, Range>;
}

export function quantize(model: Model, calibration: Calibration, options: QuantizeOptions = {}): QuantizeResult {
  const o = QuantizeOptions.parse(options);
  const opset = defaultOpset(model) ?? 0;
  if (opset < 13) throw new CompileError(`quantize needs default opset 13 or later (per-channel DequantizeLinear), the model has ${opset}`);
  const ranges = calibrationRanges(calibration, o.method, o.activations, o.percentile);
  const exclude = new Set(o.exclude);
  const keys = new Set(model.graph.nodes.map(nodeKey));
  const unknown = o.exclude.filter((k) => !keys.has(k));
  if (unknown.length) throw new CompileError(`exclude: no node ${unknown.map((k) => `"${k}"`).join(", ")} in the model (names as inspect prints them, or Op#index)`);
  const finish = (graph: Graph, summary: string): QuantizeResult => ({
    model: { ...model, graph, opsetImports: opsetsFor(graph, model.opsetImports) },
    graph,
    summary,
    ranges,
  });
  if (o.format === "weight-only") {
    const r = toWeightOnly(model.graph, { reduceRange: o.reduceRange, exclude });
    return finish(r.graph, r.summary);
  }
  const spec: QuantizeSpec = { ranges, activations: o.activations, reduceRange: o.reduceRange, exclude };
  const qdq = toQdq(model.graph, spec);
  const method = `${o.method}${o.method === "percentile" ? ` ${o.percentile}` : ""} ranges`;
  if (o.format === "qdq") return finish(qdq.graph, `${qdq.summary}; ${method}`);
  const qop = toQOperator(qdq.graph);
  return finish(qop.graph, `${qdq.summary}; ${qop.summary}; ${method}`);
}

/** The nodes quantize() would compute in int8 (all of them, none excluded): sensitivity's layers. */
export function quantizableLayers(model: Model, calibration: Calibration, options: QuantizeOptions = {}): { key: string; op: string }[] {
  const o = QuantizeOptions.parse(options);
  const ranges = calibrationRanges(calibration, "minmax", o.activations);
  const plan = planQuantization(model.graph, { ranges, activations: o.activations, reduceRange: o.reduceRange, exclude: new Set() });
  return [...plan.nodes.keys()].map((i) => ({ key: nodeKey(model.graph.nodes[i], i), op: model.graph.nodes[i].op }));
}
