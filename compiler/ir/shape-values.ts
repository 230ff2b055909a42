// Values of the small integer tensors exporters compute shapes with
// (Shape -> Gather -> Concat -> Reshape, ConstantOfShape/Equal/Where -> Expand,
// Range): shape inference evaluates them so that the ops reading them get
// known sizes. Only int64/int32/bool tensors of at most MAX_ELEMENTS elements.
import { allocate } from "./dtype.ts";
import { getInt, getInts } from "./graph.ts";
import { broadcastAll, normalizeAxis, type RuleContext } from "./shape-math.ts";
import type { DType, Tensor, TensorType } from "./types.ts";

const MAX_ELEMENTS = 64;
const INTEGER = new Set<DType>(["int64", "int32", "bool"]);

/** A value as plain numbers (int64 shape values fit a double; huge Slice ends only need their order). */
interface Value {
  readonly dtype: DType;
  readonly dims: readonly number[];
  readonly data: readonly number[];
}

/** `out` is the output type the shape rule inferred. */
type Evaluate = (ctx: RuleContext, input: (i: number) => Value | undefined, out: TensorType) => Value | undefined;

/**
 * The values of a node's outputs where they can be computed from known
 * inputs, named after the outputs; `types` are the inferred output types.
 */
export function evaluateValues(ctx: RuleContext, types: readonly (TensorType | undefined)[]): Tensor[] {
  const evaluate = EVALUATORS[ctx.node.op];
  const out = types[0];
  if (!evaluate || !out || !INTEGER.has(out.dtype) || ctx.node.outputs.length !== 1) return [];
  const input = (i: number): Value | undefined => {
    const t = ctx.has(i) ? ctx.constant(i) : undefined;
    if (!t || !INTEGER.has(t.dtype) || t.data.length > MAX_ELEMENTS) return undefined;
    return { dtype: t.dtype, dims: t.dims, data: Array.from(t.data as ArrayLike<number | bigint>, Number) };
  };
  const value = evaluate(ctx, input, out);
  if (!value || value.data.length > MAX_ELEMENTS) return [];
  return [toTensor(ctx.node.outputs[0], value)];
}

function toTensor(name: string, v: Value): Tensor {
  const data = allocate(v.dtype, v.data.length);
  v.data.forEach((x, i) => {
    // INT64_MAX (a Slice's "to the end") is 2^63 as a double, which would wrap
    // negative: clamp to the largest double below it.
    if (data instanceof BigInt64Array) data[i] = BigInt(Math.trunc(Math.min(Math.max(x, -(2 ** 63)), 2 ** 63 - 1024)));
    else (data as Int32Array | Uint8Array)[i] = x;
  });
  return { name, dtype: v.dtype, dims: [...v.dims], data };
}

const count = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

/** Elementwise over broadcast inputs. */
function elementwise(dtype: DType | "first", f: (...xs: number[]) => number, arity = 2): Evaluate {
  return (_ctx, input) => {
    const values = Array.from({ length: arity }, (_, i) => input(i));
    if (values.some((v) => !v)) return undefined;
    const vs = values as Value[];
    const dims = broadcastAll(vs.map((v) => v.dims)) as number[];
    const strides = vs.map((v) => {
      const offset = dims.length - v.dims.length;
      let stride = 1;
      const s: number[] = Array(dims.length).fill(0);
      for (let i = v.dims.length - 1; i >= 0; i--) {
        s[i + offset] = v.dims[i] === 1 ? 0 : stride;
        stride *= v.dims[i];
      }
      return s;
    });
    const data = Array.from({ length: count(dims) }, (_, flat) => {
      const at = vs.map(() => 0);
      for (let d = dims.length - 1, rest = flat; d >= 0; d--) {
        const k = rest % dims[d];
        rest = Math.floor(rest / dims[d]);
        strides.forEach((s, j) => (at[j] += k * s[d]));
      }
      return f(...vs.map((v, j) => v.data[at[j]]));
    });
    return { dtype: dtype === "first" ? vs[arity === 3 ? 1 : 0].dtype : dtype, dims, data };
  };
}

/** Elements of v along `axis` at the given indices. */
function take(v: Value, axis: number, indices: readonly number[]): number[] {
  const outer = count(v.dims.slice(0, axis));
  const inner = count(v.dims.slice(axis + 1));
  const out: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (const i of indices) for (let k = 0; k < inner; k++) out.push(v.data[(o * v.dims[axis] + i) * inner + k]);
  }
  return out;
}

const reshaped = (v: Value | undefined, dims: TensorType["shape"]) =>
  v && dims?.every((d) => typeof d === "number") ? { ...v, dims: dims as number[] } : undefined;

const EVALUATORS: Readonly<Record<string, Evaluate>> = {
  Shape: (ctx) => {
    const shape = ctx.type(0).shape;
    if (!shape) return undefined;
    const rank = shape.length;
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
    const dims = shape.slice(clamp(getInt(ctx.node, "start", 0)), clamp(getInt(ctx.node, "end", rank)));
    return dims.every((d) => typeof d === "number") ? { dtype: "int64", dims: [dims.length], data: dims as number[] } : undefined;
  },
  Size: (ctx) => {
    const shape = ctx.type(0).shape;
    return shape?.every((d) => typeof d === "number") ? { dtype: "int64", dims: [], data: [count(shape as number[])] } : undefined;
  },
  Identity: (_ctx, input) => input(0),
  Cast: (ctx, input) => {
    const v = input(0);
    const to = getInt(ctx.node, "to");
    const dtype = to === 7 ? "int64" : to === 6 ? "int32" : to === 9 ? "bool" : undefined;
    return v && dtype && { dtype, dims: v.dims, data: v.data.map((x) => (dtype === "bool" ? Number(x !== 0) : x)) };
  },
  Gather: (ctx, input) => {
    const [v, idx] = [input(0), input(1)];
    if (!v || !idx) return undefined;
    const axis = normalizeAxis(getInt(ctx.node, "axis", 0), v.dims.length);
    const indices = idx.data.map((i) => (i < 0 ? i + v.dims[axis] : i));
    if (indices.some((i) => i < 0 || i >= v.dims[axis])) return undefined;
    return { dtype: v.dtype, dims: [...v.dims.slice(0, axis), ...idx.dims, ...v.dims.slice(axis + 1)], data: take(v, axis, indices) };
  },
  Concat: (ctx, input) => {
    const vs = ctx.node.inputs.map((_, i) => input(i));
    if (vs.some((v) => !v) || vs.some((v) => v!.dims.length !== 1)) return undefined;
    const data = vs.flatMap((v) => v!.data);
    return { dtype: vs[0]!.dtype, dims: [data.length], data };
  },
  Unsqueeze: (_ctx, input, out) => reshaped(input(0), out.shape),
  Squeeze: (_ctx, input, out) => reshaped(input(0), out.shape),
  Reshape: (_ctx, input, out) => reshaped(input(0), out.shape),
  Slice: (ctx, input) => {
    const v = input(0);
    const [starts, ends, axes, steps] = [1, 2, 3, 4].map((i) => input(i)?.data);
    if (!v || v.dims.length !== 1 || getInts(ctx.node, "starts") || !starts || !ends) return undefined;
    if ((ctx.has(3) && !axes) || (ctx.has(4) && !steps)) return undefined;
    if (axes && normalizeAxis(axes[0], 1) !== 0) return undefined;
    const n = v.dims[0];
    const step = steps?.[0] ?? 1;
    const clamp = (x: number, lo: number, hi: number) => Math.min(Math.max(x < 0 ? x + n : x, lo), hi);
    const [s, e] = step > 0 ? [clamp(starts[0], 0, n), clamp(ends[0], 0, n)] : [clamp(starts[0], 0, n - 1), clamp(ends[0], -1, n - 1)];
    const data: number[] = [];
    for (let i = s; step > 0 ? i < e : i > e; i += step) data.push(v.data[i]);
    return { dtype: v.dtype, dims: [data.length], data };
  },
  Add: elementwise("first", (a, b) => a + b),
  Sub: elementwise("first", (a, b) => a - b),
  Mul: elementwise("first", (a, b) => a * b),
  Div: elementwise("first", (a, b) => Math.trunc(a / b)),
  Neg: elementwise("first", (a) => -a, 1),
  Equal: elementwise("bool", (a, b) => Number(a === b)),
  Less: elementwise("bool", (a, b) => Number(a < b)),
  Greater: elementwise("bool", (a, b) => Number(a > b)),
  Not: elementwise("bool", (a) => Number(!a), 1),
  Where: elementwise("first", (c, x, y) => (c ? x : y), 3),
  Max: elementwise("first", Math.max),
  Min: elementwise("first", Math.min),
  ConstantOfShape: (ctx, input) => {
    const shape = input(0);
    const value = ctx.node.attributes.value;
    const fill = value?.type === "tensor" ? Number(value.value.data[0]) : 0;
    return shape && { dtype: value?.type === "tensor" ? value.value.dtype : "float32", dims: shape.data, data: Array(count(shape.data)).fill(fill) };
  },
  Range: (_ctx, input) => {
    const [start, limit, delta] = [0, 1, 2].map((i) => input(i)?.data[0]);
    if (start === undefined || limit === undefined || !delta) return undefined;
    const n = Math.max(Math.ceil((limit - start) / delta), 0);
    return { dtype: input(0)!.dtype, dims: [n], data: Array.from({ length: n }, (_, i) => start + i * delta) };
  },
};
