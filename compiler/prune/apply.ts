// Turning a choice of channels into graphs: the pruned graph (member tensors
// sliced, depthwise `group` attributes updated) and the zeroed reference (the
// original graph with the pruned channels' producing parameters set to zero),
// which the pruned graph must match exactly.
import type { Attribute, Graph, Tensor } from "../ir/index.ts";
import type { Analysis, Slice } from "./groups.ts";

/** Per group, per unit: 1 to keep the channel. */
export type Keep = readonly Uint8Array[];

/** Keeps every channel. */
export function keepAll(analysis: Analysis): Uint8Array[] {
  return analysis.groups.map((g) => new Uint8Array(g.units.length).fill(1));
}

function kept(analysis: Analysis, keep: Keep): (id: number) => boolean {
  return (id) => {
    const [g, u] = analysis.unitOf(id);
    return keep[g][u] === 1;
  };
}

/** The graph with the dropped channels removed from every member tensor. Pure: shares what it does not change. */
export function applyKeep(graph: Graph, analysis: Analysis, keep: Keep): Graph {
  const isKept = kept(analysis, keep);
  const byTensor = new Map<string, Slice[]>();
  for (const s of analysis.slices) byTensor.set(s.tensor, [...(byTensor.get(s.tensor) ?? []), s]);
  const initializers = graph.initializers.map((t) => {
    const slices = byTensor.get(t.name);
    if (!slices) return t;
    return slices.reduce((tensor, s) => select(tensor, s.axis, Uint8Array.from(s.ids, (id) => (isKept(id) ? 1 : 0))), t);
  });
  const groupOf = new Map(analysis.groupAttributes.map((a) => [a.nodeIndex, a.ids.filter(isKept).length]));
  const nodes = graph.nodes.map((node, i) => {
    const group = groupOf.get(i);
    if (group === undefined) return node;
    const attributes: Record<string, Attribute> = { ...node.attributes, group: { ...node.attributes.group, type: "int", value: group } };
    return { ...node, attributes };
  });
  // Types recorded for values whose channel count changed are stale.
  const changed = new Set([...analysis.layouts].filter(([, l]) => l.ids.some((id) => !isKept(id))).map(([name]) => name));
  return { ...graph, nodes, initializers, valueInfo: graph.valueInfo.filter((v) => !changed.has(v.name)) };
}

/** The original graph with the producing parameters of dropped channels zeroed (same shapes). */
export function zeroDropped(graph: Graph, analysis: Analysis, keep: Keep): Graph {
  const isKept = kept(analysis, keep);
  const byTensor = new Map<string, Slice[]>();
  for (const s of analysis.slices) if (s.role === "produce") byTensor.set(s.tensor, [...(byTensor.get(s.tensor) ?? []), s]);
  return {
    ...graph,
    initializers: graph.initializers.map((t) => {
      const slices = byTensor.get(t.name);
      if (!slices) return t;
      const data = Float32Array.from(t.data as Float32Array);
      for (const s of slices) {
        const { outer, inner } = strides(t.dims, s.axis);
        s.ids.forEach((id, i) => {
          if (isKept(id)) return;
          for (let o = 0; o < outer; o++) data.fill(0, (o * t.dims[s.axis] + i) * inner, (o * t.dims[s.axis] + i + 1) * inner);
        });
      }
      return { ...t, data };
    }),
  };
}

function strides(dims: readonly number[], axis: number): { outer: number; inner: number } {
  return {
    outer: dims.slice(0, axis).reduce((p, d) => p * d, 1),
    inner: dims.slice(axis + 1).reduce((p, d) => p * d, 1),
  };
}

/** The float32 tensor with only the indices along `axis` where mask is 1. */
export function select(t: Tensor, axis: number, mask: Uint8Array): Tensor {
  if (mask.every((m) => m === 1)) return t;
  const { outer, inner } = strides(t.dims, axis);
  const size = t.dims[axis];
  const keptCount = mask.reduce((n, m) => n + m, 0);
  const src = t.data as Float32Array;
  const data = new Float32Array(outer * keptCount * inner);
  let at = 0;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < size; i++) {
      if (!mask[i]) continue;
      data.set(src.subarray((o * size + i) * inner, (o * size + i + 1) * inner), at);
      at += inner;
    }
  }
  return { ...t, dims: t.dims.map((d, i) => (i === axis ? keptCount : d)), data };
}
