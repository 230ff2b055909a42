// Output types of ops, one rule per op: here the convolution, pooling and
// matrix ops; elementwise and tensor-manipulation ops in their own files. A
// rule sees its node's input types and constant inputs; it throws IrProblem
// when the inputs do not fit the op, and UnknownShape when an input's shape is
// unknown.
import { IrProblem } from "./errors.ts";
import { constantValue, getInt, getInts, getString } from "./graph.ts";
import { ELEMENTWISE_RULES } from "./shape-rules-elementwise.ts";
import { TENSOR_RULES } from "./shape-rules-tensor.ts";
import {
  broadcastTo, compatible, constantInts, matmul, optionalInts, normalizeAxis, product, reshape, type RuleContext, type ShapeRule,
} from "./shape-math.ts";
import type { Dim, Node, TensorType } from "./types.ts";

export const SHAPE_RULES: Readonly<Record<string, ShapeRule>> = {
  ...ELEMENTWISE_RULES,
  ...TENSOR_RULES,
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
    const shape = getInts(ctx.node, "shape") ?? optionalInts(ctx, 1);
    if (!shape) {
      // A shape computed at run time: only the rank is known.
      const rank = ctx.shape(1)[0];
      return [{ dtype: ctx.type(0).dtype, ...(typeof rank === "number" && { shape: Array<Dim>(rank).fill(null) }) }];
    }
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
    const axes = getInts(ctx.node, "axes") ?? optionalInts(ctx, 1);
    // Axes known only at run time: so is the rank.
    if (!axes && ctx.has(1)) return [{ dtype: ctx.type(0).dtype }];
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
    const axes = getInts(ctx.node, "axes") ?? optionalInts(ctx, 1);
    if (!axes) {
      // Axes known only at run time: the rank is known, not where the new axes go.
      const n = ctx.shape(1)[0];
      return [{ dtype: ctx.type(0).dtype, ...(typeof n === "number" && { shape: Array<Dim>(x.length + n).fill(null) }) }];
    }
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

