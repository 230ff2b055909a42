// What shape rules share: the context a rule sees, and dimension arithmetic
// (broadcasting, reshape, axes).
import { IrProblem } from "./errors.ts";
import type { Dim, Node, Tensor, TensorType } from "./types.ts";

/** Thrown when a rule needs a shape that is not known; the outputs stay untyped. */
export class UnknownShape extends Error {}

export interface RuleContext {
  readonly node: Node;
  /** Whether optional input i is present. */
  has(i: number): boolean;
  type(i: number): TensorType;
  shape(i: number): readonly Dim[];
  /** The value of input i if it is known: an initializer, a Constant's output, or computed from shapes (shape-values.ts). */
  constant(i: number): Tensor | undefined;
}

export type ShapeRule = (ctx: RuleContext) => (TensorType | undefined)[];

/** Whether two dims can be the same size. */
export function compatible(a: Dim | undefined, b: Dim | undefined): boolean {
  return typeof a !== "number" || typeof b !== "number" || a === b;
}

/** Numpy-style multidirectional broadcasting. */
export function broadcast(a: readonly Dim[], b: readonly Dim[]): Dim[] {
  const rank = Math.max(a.length, b.length);
  return Array.from({ length: rank }, (_, i) => {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x === 1) return y;
    if (y === 1 || x === y) return x;
    if (typeof x === "number" && typeof y === "number") {
      throw new IrProblem(`shapes [${a.join(",")}] and [${b.join(",")}] do not broadcast`);
    }
    // A size against a symbol: the symbol must be that size (or 1).
    return typeof x === "number" ? x : typeof y === "number" ? y : null;
  });
}

export function broadcastTo(from: readonly Dim[], to: readonly Dim[], what: string): void {
  const result = broadcast(from, to);
  if (result.length !== to.length || result.some((d, i) => !compatible(d, to[i]))) {
    throw new IrProblem(`${what} of shape [${from.join(",")}] does not broadcast to [${to.join(",")}]`);
  }
}

export function matmul(a: readonly Dim[], b: readonly Dim[]): Dim[] {
  if (a.length === 0 || b.length === 0) throw new IrProblem("MatMul inputs must not be scalars");
  const a2 = a.length === 1 ? [1, a[0]] : a;
  const b2 = b.length === 1 ? [b[0], 1] : b;
  const k1 = a2[a2.length - 1];
  const k2 = b2[b2.length - 2];
  if (!compatible(k1, k2)) throw new IrProblem(`inner dimensions differ: ${k1} and ${k2}`);
  const batch = broadcast(a2.slice(0, -2), b2.slice(0, -2));
  return [...batch, ...(a.length === 1 ? [] : [a2[a2.length - 2]]), ...(b.length === 1 ? [] : [b2[b2.length - 1]])];
}

export function product(dims: readonly Dim[]): Dim {
  if (dims.length === 1) return dims[0]; // keeps a symbolic batch dim through Flatten
  return dims.every((d) => typeof d === "number") ? (dims as number[]).reduce((p, d) => p * d, 1) : null;
}

export function reshape(input: readonly Dim[], target: readonly number[], allowZero: boolean): Dim[] {
  const out: Dim[] = target.map((d, i) => (d === 0 && !allowZero ? (input[i] ?? failCopy(i)) : d === -1 ? null : d));
  const inferred = target.indexOf(-1);
  if (inferred !== target.lastIndexOf(-1)) throw new IrProblem(`shape [${target}] has more than one -1`);
  const total = product(input);
  const known = product(out.filter((_, i) => i !== inferred));
  if (inferred >= 0) {
    if (typeof total === "number" && typeof known === "number") {
      if (known === 0 || total % known !== 0) throw new IrProblem(`cannot reshape [${input}] to [${target}]`);
      out[inferred] = total / known;
    }
  } else if (typeof total === "number" && typeof known === "number" && total !== known) {
    throw new IrProblem(`cannot reshape [${input.join(",")}] (${total} elements) to [${target}] (${known})`);
  }
  return out;
}

export function failCopy(i: number): never {
  throw new IrProblem(`shape copies dimension ${i} (0) which the input does not have`);
}

export function normalizeAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new IrProblem(`axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/** An int64 constant input as numbers (shapes, axes). */
export function constantInts(ctx: RuleContext, i: number, what: string): number[] {
  const t = ctx.constant(i);
  if (!t) throw new IrProblem(`${what} (input ${i}, %${ctx.node.inputs[i]}) must be a constant for shape inference`);
  if (t.dtype !== "int64" && t.dtype !== "int32") throw new IrProblem(`${what} must be int64, got ${t.dtype}`);
  return Array.from(t.data as BigInt64Array | Int32Array, Number);
}

/** An optional int64 constant input as numbers, or undefined when absent or not known. */
export function optionalInts(ctx: RuleContext, i: number): number[] | undefined {
  if (!ctx.has(i)) return undefined;
  const t = ctx.constant(i);
  return t && Array.from(t.data as BigInt64Array | Int32Array, Number);
}

/** Shapes of several inputs broadcast together (Sum, Max, Where, ...). */
export function broadcastAll(shapes: readonly (readonly Dim[])[]): Dim[] {
  return shapes.reduce<Dim[]>((a, b) => broadcast(a, b), []);
}
