// Shape rules of ops that move, select or reduce elements (and of the shape
// computations exporters emit: Shape, Range, ConstantOfShape). Sizes that
// come from tensor values need those values known (constants, or computed by
// shape-values.ts); otherwise the affected dims stay unknown.
import { IrProblem } from "./errors.ts";
import { getInt, getInts, getString } from "./graph.ts";
import { broadcast, normalizeAxis, optionalInts, type RuleContext, type ShapeRule } from "./shape-math.ts";
import type { Dim } from "./types.ts";

/** Reductions: axes as an attribute (older opsets) or an optional input. */
const reduce: ShapeRule = (ctx) => {
  const x = ctx.shape(0);
  const keep = getInt(ctx.node, "keepdims", 1) === 1;
  const fromInput = ctx.has(1) ? optionalInts(ctx, 1) : undefined;
  if (ctx.has(1) && !fromInput) return [{ dtype: ctx.type(0).dtype, ...(keep && { shape: x.map(() => null) }) }];
  const axes = getInts(ctx.node, "axes") ?? fromInput;
  if (!axes?.length && getInt(ctx.node, "noop_with_empty_axes", 0) === 1) return [ctx.type(0)];
  const reduced = new Set((axes?.length ? axes : x.map((_, i) => i)).map((a) => normalizeAxis(a, x.length)));
  return [{ dtype: ctx.type(0).dtype, shape: x.flatMap((d, i) => (reduced.has(i) ? (keep ? [1] : []) : [d])) }];
};

const argReduce: ShapeRule = (ctx) => {
  const x = ctx.shape(0);
  const axis = normalizeAxis(getInt(ctx.node, "axis", 0), x.length);
  const keep = getInt(ctx.node, "keepdims", 1) === 1;
  return [{ dtype: "int64", shape: x.flatMap((d, i) => (i === axis ? (keep ? [1] : []) : [d])) }];
};

const REDUCTIONS = [
  "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum",
  "ReduceLogSumExp", "ReduceSumSquare",
];

export const TENSOR_RULES: Readonly<Record<string, ShapeRule>> = {
  ...Object.fromEntries(REDUCTIONS.map((op) => [op, reduce])),
  ArgMax: argReduce,
  ArgMin: argReduce,
  Shape: (ctx) => {
    const rank = ctx.shape(0).length;
    const [start, end] = shapeRange(ctx, rank);
    return [{ dtype: "int64", shape: [Math.max(0, end - start)] }];
  },
  Size: () => [{ dtype: "int64", shape: [] }],
  Concat: (ctx) => {
    const present = ctx.node.inputs.map((_, i) => i).filter((i) => ctx.has(i));
    const shapes = present.map((i) => ctx.shape(i));
    const rank = shapes[0].length;
    const axis = normalizeAxis(getInt(ctx.node, "axis") ?? fail("axis is required"), rank);
    if (shapes.some((s) => s.length !== rank)) throw new IrProblem(`inputs have different ranks: ${shapes.map((s) => `[${s}]`).join(" ")}`);
    const shape = shapes[0].map((_, i): Dim => {
      if (i === axis) return sum(shapes.map((s) => s[i]));
      const known = shapes.map((s) => s[i]).find((d) => typeof d === "number");
      return known ?? shapes[0][i];
    });
    return [{ dtype: ctx.type(0).dtype, shape }];
  },
  Split: (ctx) => {
    const x = ctx.shape(0);
    const axis = normalizeAxis(getInt(ctx.node, "axis", 0), x.length);
    const parts = ctx.node.outputs.length;
    const sizes = getInts(ctx.node, "split") ?? (ctx.has(1) ? optionalInts(ctx, 1) : splitEvenly(x[axis], parts, getInt(ctx.node, "num_outputs")));
    if (sizes && sizes.length !== parts) throw new IrProblem(`split [${sizes}] has ${sizes.length} parts for ${parts} outputs`);
    const total = x[axis];
    if (sizes && typeof total === "number" && sizes.reduce((a, b) => a + b, 0) !== total) {
      throw new IrProblem(`split [${sizes}] does not add up to ${total}`);
    }
    return Array.from({ length: parts }, (_, k) => ({
      dtype: ctx.type(0).dtype,
      shape: x.map((d, i) => (i === axis ? (sizes ? sizes[k] : null) : d)),
    }));
  },
  Slice: (ctx) => {
    const x = ctx.shape(0);
    // Opset < 10: starts/ends/axes are attributes; later, inputs 1-4.
    const attrs = getInts(ctx.node, "starts");
    const starts = attrs ?? optionalInts(ctx, 1);
    const ends = attrs ? getInts(ctx.node, "ends") : optionalInts(ctx, 2);
    const axes = attrs ? getInts(ctx.node, "axes") : ctx.has(3) ? optionalInts(ctx, 3) : x.map((_, i) => i);
    const steps = attrs ? undefined : ctx.has(4) ? optionalInts(ctx, 4) : starts?.map(() => 1);
    const dtype = ctx.type(0).dtype;
    if (!axes) return [{ dtype, shape: x.map(() => null) }];
    const normalized = axes.map((a) => normalizeAxis(a, x.length));
    if (!starts || !ends || (!attrs && !steps)) {
      const sliced = new Set(normalized);
      return [{ dtype, shape: x.map((d, i) => (sliced.has(i) ? null : d)) }];
    }
    const shape = [...x];
    normalized.forEach((axis, k) => {
      shape[axis] = sliceLength(x[axis], starts[k], ends[k], steps?.[k] ?? 1);
    });
    return [{ dtype, shape }];
  },
  Gather: (ctx) => {
    const data = ctx.shape(0);
    const axis = normalizeAxis(getInt(ctx.node, "axis", 0), data.length);
    return [{ dtype: ctx.type(0).dtype, shape: [...data.slice(0, axis), ...ctx.shape(1), ...data.slice(axis + 1)] }];
  },
  Expand: (ctx) => {
    const shape = optionalInts(ctx, 1);
    if (!shape) {
      // Sizes known at run time only: the rank is the larger of the two.
      const n = ctx.shape(1)[0];
      return [{ dtype: ctx.type(0).dtype, ...(typeof n === "number" && { shape: Array(Math.max(n, ctx.shape(0).length)).fill(null) }) }];
    }
    return [{ dtype: ctx.type(0).dtype, shape: broadcast(ctx.shape(0), shape) }];
  },
  Tile: (ctx) => {
    const x = ctx.shape(0);
    const repeats = optionalInts(ctx, 1);
    if (repeats && repeats.length !== x.length) throw new IrProblem(`repeats [${repeats}] do not fit rank ${x.length}`);
    return [{ dtype: ctx.type(0).dtype, shape: x.map((d, i) => (repeats && typeof d === "number" ? d * repeats[i] : null)) }];
  },
  Range: (ctx) => {
    const [start, limit, delta] = [0, 1, 2].map((i) => scalar(ctx, i));
    const known = start !== undefined && limit !== undefined && delta !== undefined;
    if (known && delta === 0) throw new IrProblem("delta is 0");
    return [{ dtype: ctx.type(0).dtype, shape: [known ? Math.max(Math.ceil((limit - start) / delta), 0) : null] }];
  },
  ConstantOfShape: (ctx) => {
    const value = ctx.node.attributes.value;
    const dtype = value?.type === "tensor" ? value.value.dtype : "float32";
    const shape = optionalInts(ctx, 0);
    const rank = ctx.shape(0)[0];
    return [{ dtype, ...(shape ? { shape } : typeof rank === "number" && { shape: Array(rank).fill(null) }) }];
  },
  Pad: (ctx) => {
    const x = ctx.shape(0);
    const pads = getInts(ctx.node, "pads") ?? optionalInts(ctx, 1);
    const axes = (ctx.has(3) ? optionalInts(ctx, 3) : x.map((_, i) => i))?.map((a) => normalizeAxis(a, x.length));
    if (!pads || !axes) return [{ dtype: ctx.type(0).dtype, shape: x.map(() => null) }];
    if (pads.length !== 2 * axes.length) throw new IrProblem(`pads [${pads}] do not fit ${axes.length} axes`);
    const shape = [...x];
    axes.forEach((a, k) => {
      const d = x[a];
      shape[a] = typeof d === "number" ? d + pads[k] + pads[k + axes.length] : null;
    });
    return [{ dtype: ctx.type(0).dtype, shape }];
  },
  Einsum: (ctx) => [{ dtype: ctx.type(0).dtype, shape: einsum(getString(ctx.node, "equation", ""), ctx.node.inputs.map((_, i) => ctx.shape(i))) }],
};

function fail(message: string): never {
  throw new IrProblem(message);
}

function sum(dims: readonly Dim[]): Dim {
  return dims.every((d) => typeof d === "number") ? (dims as number[]).reduce((a, b) => a + b, 0) : null;
}

/** Shape's start/end attributes (opset 15), clamped to the rank. */
function shapeRange(ctx: RuleContext, rank: number): [number, number] {
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
  return [clamp(getInt(ctx.node, "start", 0)), clamp(getInt(ctx.node, "end", rank))];
}

function splitEvenly(size: Dim, parts: number, numOutputs: number | undefined): number[] | undefined {
  if (typeof size !== "number") return undefined;
  if (numOutputs !== undefined) {
    // Opset 18: ceil-sized chunks, the last one smaller.
    const chunk = Math.ceil(size / numOutputs);
    return Array.from({ length: parts }, (_, k) => Math.max(0, Math.min(chunk, size - k * chunk)));
  }
  if (size % parts !== 0) throw new IrProblem(`${size} does not split evenly into ${parts} outputs`);
  return Array(parts).fill(size / parts);
}

/** Elements a Slice keeps along one axis (ONNX clamping rules). */
function sliceLength(size: Dim, start: number, end: number, step: number): Dim {
  if (step === 0) throw new IrProblem("slice step is 0");
  if (typeof size !== "number") return null;
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + size : v, lo), hi);
  const [s, e] = step > 0 ? [clamp(start, 0, size), clamp(end, 0, size)] : [clamp(start, 0, size - 1), clamp(end, -1, size - 1)];
  return Math.max(0, Math.ceil((e - s) / step));
}

function scalar(ctx: RuleContext, i: number): number | undefined {
  const t = ctx.constant(i);
  if (!t || t.data.length !== 1) return undefined;
  return Number(t.data[0]);
}

/** Output shape of an einsum equation ("bij,bjk->bik"; implicit output: the letters used once, sorted; "..." broadcasts). */
function einsum(equation: string, shapes: readonly (readonly Dim[])[]): Dim[] {
  return einsumDims(equation, shapes).output;
}

/**
 * The size of every letter of an einsum equation, the broadcast "..." dims,
 * and the output dims. Cost counting uses the sizes: a contraction does one
 * multiply-add per combination of all letters (and "..." positions).
 */
export function einsumDims(equation: string, shapes: readonly (readonly Dim[])[]): { sizes: Map<string, Dim>; ellipsis: Dim[]; output: Dim[] } {
  const eq = equation.replace(/\s+/g, "");
  const [lhs, rhs] = eq.includes("->") ? eq.split("->") : [eq, undefined];
  const terms = lhs.split(",");
  if (terms.length !== shapes.length) throw new IrProblem(`equation "${equation}" has ${terms.length} inputs, the node ${shapes.length}`);
  const sizes = new Map<string, Dim>();
  const counts = new Map<string, number>();
  let ellipsis: Dim[] = [];
  terms.forEach((term, k) => {
    const letters = term.replace("...", "");
    const dotted = term.includes("...");
    const extra = shapes[k].length - letters.length;
    if (extra < 0 || (!dotted && extra > 0)) throw new IrProblem(`term "${term}" does not fit input ${k} of rank ${shapes[k].length}`);
    const at = dotted ? term.indexOf("...") : letters.length;
    if (dotted) ellipsis = broadcast(ellipsis, shapes[k].slice(at, at + extra));
    [...letters].forEach((c, j) => {
      const d = shapes[k][j < at ? j : j + extra];
      const seen = sizes.get(c);
      if (typeof seen === "number" && typeof d === "number" && seen !== d && seen !== 1 && d !== 1) {
        throw new IrProblem(`"${c}" is ${seen} in one input and ${d} in another`);
      }
      sizes.set(c, typeof seen === "number" && seen !== 1 ? seen : d);
      counts.set(c, (counts.get(c) ?? 0) + 1);
    });
  });
  const implicit = `...${[...counts].filter(([, n]) => n === 1).map(([c]) => c).sort().join("")}`;
  const output = [...(rhs ?? implicit).replace("...", "\0")].flatMap((c) => {
    if (c === "\0") return ellipsis;
    if (!sizes.has(c)) throw new IrProblem(`output letter "${c}" is not in any input`);
    return [sizes.get(c)!];
  });
  return { sizes, ellipsis, output };
}
