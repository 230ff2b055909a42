// What a graph costs to run: multiply-adds per node, parameters, and
// activation memory. Multiply-adds follow the model zoos' convention
// (training/videotrain/models/profile.py count_macs): one per
// multiply-accumulate of Conv, MatMul, Gemm and Einsum; normalization,
// activations, pooling and elementwise ops count none (BatchNorm included).
import { elementCount, storageBytes } from "./dtype.ts";
import { constantValue, getInt, getString, isDefaultDomain } from "./graph.ts";
import { einsumDims } from "./shape-rules-tensor.ts";
import type { Dim, Graph, Node, TensorType } from "./types.ts";

export interface NodeCost {
  readonly index: number;
  readonly node: Node;
  /** undefined when a shape it needs is not known. */
  readonly macs: number | undefined;
}

export interface GraphCost {
  /** Nodes of the ops that do multiply-adds, in graph order. */
  readonly layers: readonly NodeCost[];
  readonly macs: number;
  /** Layers whose multiply-adds could not be counted (unknown shapes). */
  readonly uncounted: number;
  /** Elements in initializers and Constant nodes. */
  readonly parameters: number;
  readonly activations: ActivationMemory;
}

export interface ActivationMemory {
  /** Most bytes of values alive at once, running the nodes in graph order (inputs and outputs included). */
  readonly peakBytes: number;
  /** The node running at the peak. */
  readonly peakAt: number;
  /** Bytes of every value the nodes produce, added up. */
  readonly totalBytes: number;
  /** Values whose size is not known (left out of both numbers). */
  readonly unknown: number;
}

const MAC_OPS = new Set(["Conv", "MatMul", "Gemm", "Einsum"]);

/** `types`: every value's type (inferTypes). */
export function graphCost(graph: Graph, types: ReadonlyMap<string, TensorType>): GraphCost {
  const layers = graph.nodes.flatMap((node, index) =>
    isDefaultDomain(node) && MAC_OPS.has(node.op) ? [{ index, node, macs: nodeMacs(node, types) }] : [],
  );
  const constants = graph.nodes.flatMap((n) => (isDefaultDomain(n) && n.op === "Constant" ? [constantValue(n)] : []));
  const parameters = [...graph.initializers, ...constants].reduce((n, t) => n + (t ? elementCount(t.dims) : 0), 0);
  return {
    layers,
    macs: layers.reduce((sum, l) => sum + (l.macs ?? 0), 0),
    uncounted: layers.filter((l) => l.macs === undefined).length,
    parameters,
    activations: activationMemory(graph, types),
  };
}

function known(shape: readonly Dim[] | undefined): shape is readonly number[] {
  return !!shape && shape.every((d) => typeof d === "number");
}

/** Multiply-adds of one Conv, MatMul, Gemm or Einsum; undefined when a shape is unknown. */
export function nodeMacs(node: Node, types: ReadonlyMap<string, TensorType>): number | undefined {
  const shape = (name: string | undefined) => (name ? types.get(name)?.shape : undefined);
  const out = shape(node.outputs[0]);
  if (!known(out)) return undefined;
  switch (node.op) {
    case "Conv": {
      // Each output element: (input channels / group) x kernel volume; the bias adds none.
      const w = shape(node.inputs[1]);
      return known(w) ? elementCount(out) * elementCount(w.slice(1)) : undefined;
    }
    case "MatMul": {
      const a = shape(node.inputs[0]);
      return known(a) ? elementCount(out) * a[a.length - 1] : undefined;
    }
    case "Gemm": {
      const a = shape(node.inputs[0]);
      if (!known(a)) return undefined;
      return elementCount(out) * (getInt(node, "transA", 0) ? a[0] : a[1]);
    }
    case "Einsum": {
      const shapes = node.inputs.map((i) => shape(i));
      if (!shapes.every(known)) return undefined;
      const { sizes, ellipsis } = einsumDims(getString(node, "equation", ""), shapes);
      const all = [...sizes.values(), ...ellipsis];
      return known(all) ? elementCount(all) : undefined;
    }
    default:
      return 0;
  }
}

function activationMemory(graph: Graph, types: ReadonlyMap<string, TensorType>): ActivationMemory {
  let unknown = 0;
  const bytes = (name: string): number => {
    const t = types.get(name);
    const per = t && storageBytes(t.dtype);
    if (!t || !known(t.shape) || per === undefined) {
      unknown++;
      return 0;
    }
    return elementCount(t.shape) * per;
  };
  const initializers = new Set(graph.initializers.map((t) => t.name));
  const outputs = new Set(graph.outputs.map((o) => o.name));
  // Where each value is read last; graph outputs live to the end.
  const lastUse = new Map<string, number>();
  graph.nodes.forEach((n, i) => n.inputs.forEach((v) => v && lastUse.set(v, i)));
  const size = new Map<string, number>();
  let live = 0;
  for (const input of graph.inputs) {
    if (initializers.has(input.name)) continue;
    size.set(input.name, bytes(input.name));
    live += size.get(input.name)!;
  }
  let peakBytes = live;
  let peakAt = 0;
  let totalBytes = 0;
  graph.nodes.forEach((node, i) => {
    // A Constant's value is a parameter, not an activation.
    const produced = isDefaultDomain(node) && node.op === "Constant" ? [] : node.outputs.filter(Boolean);
    for (const o of produced) {
      size.set(o, bytes(o));
      live += size.get(o)!;
      totalBytes += size.get(o)!;
    }
    if (live > peakBytes) [peakBytes, peakAt] = [live, i];
    // Free what is not read after this node (its unread outputs too).
    for (const v of new Set([...node.inputs, ...produced])) {
      if (!size.has(v) || outputs.has(v) || (lastUse.get(v) ?? -1) > i) continue;
      live -= size.get(v)!;
      size.delete(v);
    }
  });
  return { peakBytes, peakAt, totalBytes, unknown };
}
