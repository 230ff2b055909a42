// Shape rules of elementwise ops: unary ops keep their input's type, binary
// and variadic ones broadcast, comparisons give bool.
import { dtypeFromCode } from "./dtype.ts";
import { IrProblem } from "./errors.ts";
import { getInt } from "./graph.ts";
import { broadcastAll, normalizeAxis, type RuleContext, type ShapeRule } from "./shape-math.ts";
import type { DType, TensorType } from "./types.ts";

const same: ShapeRule = (ctx) => [ctx.type(0)];

/** Inputs (present ones) that must share one element type, broadcast together. */
function broadcastInputs(ctx: RuleContext, indices: readonly number[], dtype?: DType): TensorType {
  const present = indices.filter((i) => ctx.has(i));
  const types = present.map((i) => ctx.type(i));
  const first = types[0]?.dtype;
  if (!first) throw new IrProblem("needs at least one input");
  const other = types.find((t) => t.dtype !== first);
  if (other) throw new IrProblem(`inputs have different types: ${first} and ${other.dtype}`);
  return { dtype: dtype ?? first, shape: broadcastAll(present.map((i) => ctx.shape(i))) };
}

const binary: ShapeRule = (ctx) =>
  // Opset < 7: with broadcast=1, B is broadcast to A's shape (from `axis`).
  getInt(ctx.node, "broadcast", 0) === 1 ? [ctx.type(0)] : [broadcastInputs(ctx, [0, 1])];
const compare: ShapeRule = (ctx) => [broadcastInputs(ctx, [0, 1], "bool")];
const variadic: ShapeRule = (ctx) => [broadcastInputs(ctx, ctx.node.inputs.map((_, i) => i))];

const UNARY = [
  "Identity", "Relu", "Sigmoid", "Softmax", "LogSoftmax", "Hardmax", "Erf", "Gelu", "Neg", "Abs", "Sqrt", "Exp",
  "Log", "Tanh", "Reciprocal", "Floor", "Ceil", "Round", "Sign", "LeakyRelu", "Elu", "Selu", "Celu", "HardSigmoid",
  "HardSwish", "Softplus", "Softsign", "Mish", "Not", "Sin", "Cos", "ThresholdedRelu",
] as const;

export const ELEMENTWISE_RULES: Readonly<Record<string, ShapeRule>> = {
  ...Object.fromEntries(UNARY.map((op) => [op, same])),
  ...Object.fromEntries(["Add", "Sub", "Mul", "Div", "And", "Or", "Xor", "Mod"].map((op) => [op, binary])),
  ...Object.fromEntries(["Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"].map((op) => [op, compare])),
  ...Object.fromEntries(["Sum", "Max", "Min", "Mean"].map((op) => [op, variadic])),
  // The exponent may have another numeric type; the result has the base's.
  Pow: (ctx) => [{ ...broadcastInputs(ctx, [0]), shape: broadcastAll([ctx.shape(0), ctx.shape(1)]) }],
  // The slope broadcasts to X (along the channels before opset 7).
  PRelu: same,
  Where: (ctx) => {
    if (ctx.type(0).dtype !== "bool") throw new IrProblem(`condition must be bool, got ${ctx.type(0).dtype}`);
    const { dtype } = broadcastInputs(ctx, [1, 2]);
    return [{ dtype, shape: broadcastAll([0, 1, 2].map((i) => ctx.shape(i))) }];
  },
  Cast: (ctx) => {
    const to = getInt(ctx.node, "to");
    const dtype = to === undefined ? undefined : dtypeFromCode(to);
    if (!dtype) throw new IrProblem(`"to" is ${to ?? "missing"}, not a known element type`);
    return [{ dtype, ...(ctx.type(0).shape && { shape: ctx.type(0).shape }) }];
  },
  // min and max are attributes before opset 11, optional inputs after.
  Clip: same,
  Dropout: (ctx) => {
    const x = ctx.type(0);
    return ctx.node.outputs.length > 1 ? [x, { dtype: "bool", shape: x.shape }] : [x];
  },
  LayerNormalization: (ctx) => {
    const x = ctx.shape(0);
    const axis = normalizeAxis(getInt(ctx.node, "axis", -1), x.length);
    const stash = dtypeFromCode(getInt(ctx.node, "stash_type", 1)) ?? "float32";
    // Mean and InvStdDev keep the leading dims and have 1 over the normalized ones.
    const stats: TensorType = { dtype: stash, shape: x.map((d, i) => (i < axis ? d : 1)) };
    return ctx.node.outputs.map((_, i) => (i === 0 ? ctx.type(0) : stats));
  },
};
