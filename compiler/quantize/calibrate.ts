// Calibration: runs the fp32 model over representative clips with every float
// activation exposed as an output, collecting min/max (pass 1) and then a
// histogram of |x| over [0, max|x|] (pass 2), and turns them into ranges.
import { encodeModel, inferTypes, type Model, type Tensor } from "../ir/index.ts";
import { exposeValues } from "./expose.ts";
import type { ActivationType } from "./params.ts";
import { addHistogram, addMinMax, emptyStats, rangeOf, type Range, type RangeMethod, type ValueStats } from "./ranges.ts";
import { forEachRun } from "./session.ts";

export interface Calibration {
  readonly stats: ReadonlyMap<string, ValueStats>;
}

/** Float activations a quantizer may need: graph inputs and float node outputs. */
function floatValues(model: Model): string[] {
  const types = inferTypes(model.graph);
  const initializers = new Set(model.graph.initializers.map((t) => t.name));
  const names = [...model.graph.inputs.map((i) => i.name), ...model.graph.nodes.flatMap((n) => n.outputs)];
  return names.filter((n) => n !== "" && !initializers.has(n) && types.get(n)?.dtype === "float32");
}

export async function calibrate(model: Model, clips: readonly Tensor[]): Promise<Calibration> {
  const names = floatValues(model);
  const inputNames = new Set(model.graph.inputs.map((i) => i.name));
  // Inputs' values are the clips themselves; only node outputs are exposed.
  const exposed = encodeModel({ ...model, graph: exposeValues(model.graph, names.filter((n) => !inputNames.has(n))) });
  const stats = new Map(names.map((n) => [n, emptyStats()]));
  const each = (add: (s: ValueStats, d: Float32Array) => void) => (outputs: Map<string, Float32Array>, i: number) => {
    for (const [name, s] of stats) add(s, inputNames.has(name) ? (clips[i].data as Float32Array) : outputs.get(name)!);
  };
  await forEachRun(exposed, clips, each(addMinMax));
  await forEachRun(exposed, clips, each(addHistogram));
  return { stats };
}

const rangeCache = new WeakMap<Calibration, Map<string, Map<string, Range>>>();

export function calibrationRanges(
  calibration: Calibration,
  method: RangeMethod,
  activations: ActivationType,
  percentile?: number,
): Map<string, Range> {
  // Memoized per calibration: sensitivity analysis builds a candidate per layer
  // from the same ranges, and entropy's threshold search is the slow part.
  const key = `${method}|${activations}|${percentile}`;
  const cache = rangeCache.get(calibration) ?? new Map<string, Map<string, Range>>();
  rangeCache.set(calibration, cache);
  const levels = (s: ValueStats) => (activations === "uint8" && s.min >= 0 ? 256 : 128);
  const ranges = cache.get(key) ?? new Map([...calibration.stats].map(([name, s]) => [name, rangeOf(s, method, percentile, levels(s))]));
  cache.set(key, ranges);
  return ranges;
}
