// Output types of the ops the X3D family uses, one rule per op. A rule sees
// its node's input types and constant inputs; it throws IrProblem when the
// inputs do not fit the op, and UnknownShape when an input's shape is unknown.
import { IrProblem } from "./errors.ts";
import { constantValue, getInt, getInts, getString } from "./graph.ts";
import type { Dim, Node, Tensor, TensorType } from "./types.ts";

/** Thrown when a rule needs a shape that is not known; the outputs stay untyped. */
export class UnknownShape extends Error {}

export interface RuleContext {
  readonly node: Node;
  /** Whether optional input i is present. */
  has(i: number): boolean;
  type(i: number): TensorType;
  shape(i: number): readonly Dim[];
  /** The value of input i if it is an initializer or a Constant's output. */
  constant(i: number): Tensor | undefined;
}

export type ShapeRule = (ctx: RuleContext) => (TensorType | undefined)[];

const same: ShapeRule = (ctx) => [ctx.type(0)];

const binary: ShapeRule = (ctx) => {
  const a = ctx.type(0);
  const b = ctx.type(1);
  if (a.dtype !== b.dtype) throw new IrProblem(`inputs have different types: ${a.dtype} and ${b.dtype}`);
  return [{ dtype: a.dtype, shape: broadcast(ctx.shape(0), ctx.shape(1)) }];
};

export const SHAPE_RULES: Readonly<Record<string, ShapeRule>> = {
  Identity: same,
  Relu: same,
  Sigmoid: same,
  Softmax: same,
  Add: binary,
  Sub: binary,
  Mul: binary,
  Div: binary,
  Constant: (ctx) => {
    const t = constantValue(ctx.node);
    return [t && { dtype: t.dtype, shape: [...t.dims] }];
  },
  BatchNormalization: (ctx) => {
    const x = ctx.shape(0);
    const c = ctx.shape(1);
    if (x.length < 2) throw new IrProblem(`input must have rank >= 2, got [${x.join(",")}]`);
    if (!compatible(c[0], x[1])) throw new IrProblem(`scale has ${c[0]} channels but the input has ${x[1]}`);
    // Training-mode outputs (running or saved mean and variance) are per channel.
    return ctx.node.outputs.map((_, i) => (i === 0 ? ctx.type(0) : { dtype: ctx.type(1).dtype, shape: [x[1]] }));
  },
  Conv: (ctx) => {
    const x = ctx.shape(0);
    const w = ctx.shape(1);
    if (x.length < 3) throw new IrProblem(`input must be [N,C,spatial...], got [${x.join(",")}]`);
    if (w.length !== x.length) throw new IrProblem(`weight rank ${w.length} does not match input rank ${x.length}`);
    const group = getInt(ctx.node, "group", 1);
    if (typeof x[1] === "number" && typeof w[1] === "number" && x[1] !== w[1] * group) {
      throw new IrProblem(`input has ${x[1]} channels but the weight expects ${w[1]} x group ${group}`);
    }
    if (typeof w[0] === "number" && w[0] % group !== 0) {
      throw new IrProblem(`${w[0]} output channels are not divisible by group ${group}`);
    }
    if (ctx.has(2) && !compatible(ctx.shape(2)[0], w[0])) {
      throw new IrProblem(`bias has ${ctx.shape(2)[0]} elements, expected ${w[0]}`);
    }
    const kernel = getInts(ctx.node, "kernel_shape") ?? w.slice(2);
    return [{ dtype: ctx.type(0).dtype, shape: [x[0], w[0], ...window(ctx.node, x.slice(2), kernel, false)] }];
  },
  AveragePool: (ctx) => pool(ctx),
  MaxPool: (ctx) => {
    const [y] = pool(ctx);
    return ctx.node.outputs.length > 1 ? [y, { dtype: "int64", shape: y.shape }] : [y];
  },
  GlobalAveragePool: (ctx) => {
    const x = ctx.shape(0);
    if (x.length < 3) throw new IrProblem(`input must be [N,C,spatial...], got [${x.join(",")}]`);
    return [{ dtype: ctx.type(0).dtype, shape: [x[0], x[1], ...x.slice(2).map(() => 1)] }];
  },
  ReduceMean: (ctx) => {
    const x = ctx.shape(0);
    const keep = getInt(ctx.node, "keepdims", 1) === 1;
    const axes = getInts(ctx.node, "axes") ?? (ctx.has(1) ? constantInts(ctx, 1, "axes") : undefined);
    if (!axes?.length && getInt(ctx.node, "noop_with_empty_axes", 0) === 1) return [ctx.type(0)];
    const reduced = new Set((axes?.length ? axes : x.map((_, i) => i)).map((a) => normalizeAxis(a, x.length)));
    const shape = x.flatMap((d, i) => (reduced.has(i) ? (keep ? [1] : []) : [d]));
    return [{ dtype: ctx.type(0).dtype, shape }];
  },
  Gemm: (ctx) => {
    const a = ctx.shape(0);
    const b = ctx.shape(1);
    if (a.length !== 2 || b.length !== 2) throw new IrProblem(`A and B must be matrices, got [${a}] and [${b}]`);
    const [m, ka] = getInt(ctx.node, "transA", 0) ? [a[1], a[0]] : [a[0], a[1]];
    const [kb, n] = getInt(ctx.node, "transB", 0) ? [b[1], b[0]] : [b[0], b[1]];
    if (!compatible(ka, kb)) throw new IrProblem(`inner dimensions differ: ${ka} and ${kb}`);
    if (ctx.has(2)) broadcastTo(ctx.shape(2), [m, n], "C");
    return [{ dtype: ctx.type(0).dtype, shape: [m, n] }];
  },
  MatMul: (ctx) => [{ dtype: ctx.type(0).dtype, shape: matmul(ctx.shape(0), ctx.shape(1)) }],
  Flatten: (ctx) => {
    const x = ctx.shape(0);
    const axis = getInt(ctx.node, "axis", 1);
    const at = axis < 0 ? axis + x.length : axis;
    if (at < 0 || at > x.length) throw new IrProblem(`axis ${axis} is out of range for rank ${x.length}`);
    return [{ dtype: ctx.type(0).dtype, shape: [product(x.slice(0, at)), product(x.slice(at))] }];
  },
  Reshape: (ctx) => {
    const shape = getInts(ctx.node, "shape") ?? constantInts(ctx, 1, "shape");
    return [{ dtype: ctx.type(0).dtype, shape: reshape(ctx.shape(0), shape, getInt(ctx.node, "allowzero", 0) === 1) }];
  },
  Transpose: (ctx) => {
    const x = ctx.shape(0);
    const perm = getInts(ctx.node, "perm") ?? x.map((_, i) => x.length - 1 - i);
    if (perm.length !== x.length || [...perm].sort((p, q) => p - q).some((p, i) => p !== i)) {
      throw new IrProblem(`perm [${perm}] is not a permutation of the ${x.length} axes`);
    }
    return [{ dtype: ctx.type(0).dtype, shape: perm.map((p) => x[p]) }];
  },
  Squeeze: (ctx) => {
    const x = ctx.shape(0);
    const axes = getInts(ctx.node, "axes") ?? (ctx.has(1) ? constantInts(ctx, 1, "axes") : undefined);
    if (!axes) {
      // Without axes every size-1 dimension goes, which needs every size known.
      if (x.some((d) => typeof d !== "number")) return [{ dtype: ctx.type(0).dtype }];
      return [{ dtype: ctx.type(0).dtype, shape: x.filter((d) => d !== 1) }];
    }
    const drop = new Set(axes.map((a) => normalizeAxis(a, x.length)));
    for (const i of drop) if (typeof x[i] === "number" && x[i] !== 1) throw new IrProblem(`cannot squeeze axis ${i} of size ${x[i]}`);
    return [{ dtype: ctx.type(0).dtype, shape: x.filter((_, i) => !drop.has(i)) }];
  },
  Unsqueeze: (ctx) => {
    const x = ctx.shape(0);
    const axes = getInts(ctx.node, "axes") ?? constantInts(ctx, 1, "axes");
    const rank = x.length + axes.length;
    const ones = new Set(axes.map((a) => normalizeAxis(a, rank)));
    if (ones.size !== axes.length) throw new IrProblem(`axes [${axes}] repeat an axis`);
    const rest = [...x];
    return [{ dtype: ctx.type(0).dtype, shape: Array.from({ length: rank }, (_, i) => (ones.has(i) ? 1 : rest.shift()!)) }];
  },
};

function pool(ctx: RuleContext): [TensorType] {
  const x = ctx.shape(0);
  const kernel = getInts(ctx.node, "kernel_shape");
  if (!kernel) throw new IrProblem("kernel_shape is required");
  if (kernel.length !== x.length - 2) throw new IrProblem(`kernel_shape [${kernel}] does not fit input rank ${x.length}`);
  const ceil = getInt(ctx.node, "ceil_mode", 0) === 1;
  return [{ dtype: ctx.type(0).dtype, shape: [x[0], x[1], ...window(ctx.node, x.slice(2), kernel, ceil)] }];
}

/** Output sizes of a sliding window (Conv, pools) over the spatial dims. */
function window(node: Node, spatial: readonly Dim[], kernel: readonly Dim[], ceilMode: boolean): Dim[] {
  const n = spatial.length;
  const strides = getInts(node, "strides") ?? Array(n).fill(1);
  const dilations = getInts(node, "dilations") ?? Array(n).fill(1);
  const pads = getInts(node, "pads") ?? Array(2 * n).fill(0);
  const autoPad = getString(node, "auto_pad", "NOTSET");
  if (kernel.length !== n || strides.length !== n || dilations.length !== n || pads.length !== 2 * n) {
    throw new IrProblem(`kernel_shape/strides/dilations/pads do not fit ${n} spatial dims`);
  }
  return spatial.map((size, i) => {
    const k = kernel[i];
    if (typeof size !== "number" || typeof k !== "number") return null;
    const extent = (k - 1) * dilations[i] + 1;
    let out: number;
    if (autoPad === "SAME_UPPER" || autoPad === "SAME_LOWER") out = Math.ceil(size / strides[i]);
    else if (autoPad === "VALID") out = Math.floor((size - extent) / strides[i]) + 1;
    else if (autoPad === "NOTSET") {
      const padded = size + pads[i] + pads[i + n];
      const steps = (padded - extent) / strides[i];
      out = (ceilMode ? Math.ceil(steps) : Math.floor(steps)) + 1;
      // With ceil_mode the last window must start inside the input or its left padding.
      if (ceilMode && (out - 1) * strides[i] >= size + pads[i]) out--;
    } else throw new IrProblem(`unknown auto_pad "${autoPad}"`);
    if (out < 1) throw new IrProblem(`spatial dim ${i} of size ${size} is smaller than the window (${extent})`);
    return out;
  });
}

/** Whether two dims can be the same size. */
function compatible(a: Dim | undefined, b: Dim | undefined): boolean {
  return typeof a !== "number" || typeof b !== "number" || a === b;
}

/** Numpy-style multidirectional broadcasting. */
function broadcast(a: readonly Dim[], b: readonly Dim[]): Dim[] {
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

function broadcastTo(from: readonly Dim[], to: readonly Dim[], what: string): void {
  const result = broadcast(from, to);
  if (result.length !== to.length || result.some((d, i) => !compatible(d, to[i]))) {
    throw new IrProblem(`${what} of shape [${from.join(",")}] does not broadcast to [${to.join(",")}]`);
  }
}

function matmul(a: readonly Dim[], b: readonly Dim[]): Dim[] {
  if (a.length === 0 || b.length === 0) throw new IrProblem("MatMul inputs must not be scalars");
  const a2 = a.length === 1 ? [1, a[0]] : a;
  const b2 = b.length === 1 ? [b[0], 1] : b;
  const k1 = a2[a2.length - 1];
  const k2 = b2[b2.length - 2];
  if (!compatible(k1, k2)) throw new IrProblem(`inner dimensions differ: ${k1} and ${k2}`);
  const batch = broadcast(a2.slice(0, -2), b2.slice(0, -2));
  return [...batch, ...(a.length === 1 ? [] : [a2[a2.length - 2]]), ...(b.length === 1 ? [] : [b2[b2.length - 1]])];
}

function product(dims: readonly Dim[]): Dim {
  if (dims.length === 1) return dims[0]; // keeps a symbolic batch dim through Flatten
  return dims.every((d) => typeof d === "number") ? (dims as number[]).reduce((p, d) => p * d, 1) : null;
}

function reshape(input: readonly Dim[], target: readonly number[], allowZero: boolean): Dim[] {
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

function failCopy(i: number): never {
  throw new IrProblem(`shape copies dimension ${i} (0) which the input does not have`);
}

function normalizeAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new IrProblem(`axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/** An int64 constant input as numbers (shapes, axes). */
function constantInts(ctx: RuleContext, i: number, what: string): number[] {
  const t = ctx.constant(i);
  if (!t) throw new IrProblem(`${what} (input ${i}, %${ctx.node.inputs[i]}) must be a constant for shape inference`);
  if (t.dtype !== "int64" && t.dtype !== "int32") throw new IrProblem(`${what} must be int64, got ${t.dtype}`);
  return Array.from(t.data as BigInt64Array | Int32Array, Number);
}
