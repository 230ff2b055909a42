// What the QDQ and weight-only rewrites both add to a graph: initializers
// under fresh names, and int8 weights behind a DequantizeLinear.
import { attr, definedNames, makeNode, makeTensor, uniqueName, type Graph, type Node, type Tensor } from "../ir/index.ts";
import { quantizeWeight } from "./params.ts";

export interface TensorSink {
  /** A name no value of the graph (or of this sink) has yet. */
  fresh(base: string): string;
  /** Adds an initializer under a fresh name; returns the name. */
  constant(base: string, dtype: Tensor["dtype"], dims: readonly number[], data: Tensor["data"]): string;
  /** The initializers added so far. */
  readonly added: Tensor[];
}

export function tensorSink(graph: Graph): TensorSink {
  const taken = definedNames(graph);
  const added: Tensor[] = [];
  const fresh = (base: string) => {
    const name = uniqueName(taken, base);
    taken.add(name);
    return name;
  };
  return {
    fresh,
    constant: (base, dtype, dims, data) => {
      const name = fresh(base);
      added.push(makeTensor(name, dtype, [...dims], data));
      return name;
    },
    added,
  };
}

export function axisAttr(axis: number | undefined): Record<string, ReturnType<typeof attr.int>> {
  return axis === undefined ? {} : { axis: attr.int(axis) };
}

/** `w` as symmetric int8 (per channel along `axis`, per tensor without) behind a DequantizeLinear node. */
export function dequantizedWeight(
  sink: TensorSink, w: Tensor, axis: number | undefined, reduceRange: boolean,
): { name: string; node: Node; scales: Float32Array } {
  const q = quantizeWeight(w, axis, reduceRange);
  const dims = axis === undefined ? [] : [q.scales.length];
  const inputs = [
    sink.constant(`${w.name}_quantized`, "int8", w.dims, q.data),
    sink.constant(`${w.name}_scale`, "float32", dims, dims.length ? q.scales : Float32Array.of(q.scales[0])),
    sink.constant(`${w.name}_zero_point`, "int8", dims, new Int8Array(q.scales.length)),
  ];
  const name = sink.fresh(`${w.name}_dequantized`);
  return { name, node: makeNode("DequantizeLinear", inputs, [name], axisAttr(axis), `${w.name}_DequantizeLinear`), scales: q.scales };
}
