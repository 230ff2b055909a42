// How much each prunable channel (unit) matters: one score per member
// (a producing conv's filter, a BN scale, a Taylor score of a value), then
// combined per unit with sum, mean or max.
//   l1:     L1 norm of the producing filters (conv/gemm/matmul weights)
//   bn:     |gamma| of the BatchNorms on the channel; on a BN-folded graph,
//           from the unfolded teacher's BN after the conv of the same weight
//   taylor: |activation x gradient| per channel of the producing values,
//           measured by the training engine (taylor.ts)
// A group without members of the asked kind falls back to L1 (the summary says so).
import { isDefaultDomain, producerIndex, type Graph } from "../ir/index.ts";
import type { PruneConfig } from "./config.ts";
import type { Analysis, Slice } from "./groups.ts";

/** Per value name (a conv's output), one score per channel. */
export type TaylorScores = ReadonlyMap<string, ArrayLike<number>>;

export interface ImportanceOptions {
  readonly importance: PruneConfig["importance"];
  readonly aggregate: PruneConfig["aggregate"];
  /** The unfolded model, for BN scales of a folded graph. */
  readonly teacher?: Graph;
  readonly taylor?: TaylorScores;
}

export interface Scores {
  /** Per group, per unit. */
  readonly scores: readonly Float64Array[];
  /** Groups that fell back to L1, and why. */
  readonly notes: readonly string[];
}

type Members = number[][][]; // group -> unit -> member scores

export function unitScores(graph: Graph, analysis: Analysis, options: ImportanceOptions): Scores {
  const l1 = collect(analysis, analysis.slices.filter((s) => s.role === "produce" && s.kind === "weight"), (s) => sliceNorms(graph, s));
  let wanted: Members = l1;
  if (options.importance === "bn") wanted = bnMembers(graph, analysis, options.teacher);
  else if (options.importance === "taylor") wanted = taylorMembers(analysis, options.taylor ?? new Map());
  const notes: string[] = [];
  const scores = analysis.groups.map((group, g) => {
    let members = wanted[g];
    if (!group.locked && members.some((m) => m.length === 0)) {
      if (options.importance !== "l1") notes.push(`group of ${group.producers[0]}: no ${options.importance} scores, used L1`);
      members = l1[g];
    }
    return Float64Array.from(members, (m) => combine(m, options.aggregate));
  });
  return { scores, notes };
}

function combine(values: readonly number[], how: PruneConfig["aggregate"]): number {
  if (values.length === 0) return 0;
  if (how === "max") return Math.max(...values);
  const sum = values.reduce((a, b) => a + b, 0);
  return how === "sum" ? sum : sum / values.length;
}

function empty(analysis: Analysis): Members {
  return analysis.groups.map((g) => g.units.map(() => []));
}

/** One member score per (slice, unit): the per-index values of the slice summed over the unit's indices. */
function collect(analysis: Analysis, slices: readonly Slice[], perIndex: (s: Slice) => ArrayLike<number>): Members {
  const members = empty(analysis);
  for (const s of slices) {
    const values = perIndex(s);
    const sums = new Map<string, [number, number, number]>();
    s.ids.forEach((id, i) => {
      const [g, u] = analysis.unitOf(id);
      const key = `${g}:${u}`;
      const at = sums.get(key) ?? [g, u, 0];
      at[2] += Math.abs(values[i]);
      sums.set(key, at);
    });
    for (const [g, u, v] of sums.values()) members[g][u].push(v);
  }
  return members;
}

/** L1 norm of each index along the slice's axis. */
function sliceNorms(graph: Graph, s: Slice): Float64Array {
  const t = graph.initializers.find((x) => x.name === s.tensor)!;
  const data = t.data as Float32Array;
  const size = t.dims[s.axis];
  const inner = t.dims.slice(s.axis + 1).reduce((p, d) => p * d, 1);
  const norms = new Float64Array(size);
  for (let k = 0; k < data.length; k++) norms[Math.floor(k / inner) % size] += Math.abs(data[k]);
  return norms;
}

function bnMembers(graph: Graph, analysis: Analysis, teacher: Graph | undefined): Members {
  const value = (name: string) => graph.initializers.find((t) => t.name === name)!.data as Float32Array;
  const members = collect(analysis, analysis.slices.filter((s) => s.kind === "bn-scale"), (s) => value(s.tensor));
  if (!teacher) return members;
  // BN-folded graph: the teacher's BN scale, found through the conv weight both graphs share by name.
  const gammas = teacherBnScales(teacher);
  const folded = analysis.slices.filter((s) => s.kind === "weight" && s.role === "produce" && gammas.has(s.tensor));
  const fromTeacher = collect(analysis, folded, (s) => gammas.get(s.tensor)!);
  return members.map((group, g) => group.map((m, u) => (m.length ? m : fromTeacher[g][u])));
}

/** Conv weight name -> the scale of the BatchNormalization right after that conv. */
export function teacherBnScales(teacher: Graph): Map<string, Float32Array> {
  const producers = producerIndex(teacher);
  const scales = new Map<string, Float32Array>();
  for (const bn of teacher.nodes) {
    if (bn.op !== "BatchNormalization" || !isDefaultDomain(bn)) continue;
    const conv = teacher.nodes[producers.get(bn.inputs[0]) ?? -1];
    const gamma = teacher.initializers.find((t) => t.name === bn.inputs[1]);
    if (conv?.op === "Conv" && gamma?.dtype === "float32") scales.set(conv.inputs[1], gamma.data as Float32Array);
  }
  return scales;
}

function taylorMembers(analysis: Analysis, taylor: TaylorScores): Members {
  const members = empty(analysis);
  for (const group of analysis.groups) {
    for (const space of group.spaces) {
      const values = taylor.get(space.value);
      if (!values || values.length !== space.size) continue;
      const sums = new Map<number, number>();
      for (let i = 0; i < space.size; i++) {
        const u = analysis.unitOf(space.firstId + i)[1];
        sums.set(u, (sums.get(u) ?? 0) + Math.abs(values[i]));
      }
      for (const [u, v] of sums) members[group.index][u].push(v);
    }
  }
  return members;
}
