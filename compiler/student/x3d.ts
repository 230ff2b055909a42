// X3D-S-family candidates built in code, following the training package's
// create_x3d (training/videotrain/models/x3d.py) layer for layer: the same
// channel rounding, block repeats, squeeze-excite placement and head. The
// graph is what the compiler counts (multiply-adds, parameters: no run
// needed) and, with random weights, what it times in onnxruntime-web. The
// engine builds the real student from the same factors (config "student").
import { attr, GraphBuilder, inferTypes, makeModel, graphCost, type Model } from "../ir/index.ts";
import { seededRandom, uniform } from "../random.ts";

/** One student: create_x3d's width/depth factors, the input clip, the head width. */
export interface X3dCandidate {
  readonly widthFactor: number;
  readonly depthFactor: number;
  readonly frames: number;
  readonly crop: number;
  readonly headDimOut: number;
}

// create_x3d's fixed structure (X3D-S defaults other than the factors).
const STEM_DIM_IN = 12;
const STAGE_DEPTHS = [1, 2, 5, 3];
const BOTTLENECK_FACTOR = 2.25;
const SE_RATIO = 0.0625;
const STEM_KERNEL_T = 5;
/** Stem and four stages each halve H and W. */
export const SPATIAL_STRIDE = 32;

/** PyTorchVideo's channel rounding: nearest multiple of 8, never more than 10% below the exact value. */
export function roundWidth(width: number, multiplier: number, minWidth = 8, divisor = 8): number {
  const exact = width * multiplier;
  let out = Math.max(minWidth, Math.floor((exact + divisor / 2) / divisor) * divisor);
  if (out < 0.9 * exact) out += divisor;
  return out;
}

export function roundRepeats(repeats: number, multiplier: number): number {
  return Math.ceil(multiplier * repeats);
}

export interface X3dCost {
  readonly macs: number;
  /** Trainable parameters, as PyTorch counts them (BatchNorm: scale and shift, not its running statistics). */
  readonly params: number;
}

/**
 * The candidate as an ONNX model (input %video [1,3,T,S,S], output %logits).
 * weights "zeros" costs no arithmetic (for counting); "random" is for timing.
 */
export function buildX3d(c: X3dCandidate, classes: number, weights: "zeros" | "random" = "zeros", seed = 0): Model {
  const random = seededRandom(seed);
  const b = new GraphBuilder(`x3d_w${c.widthFactor}_d${c.depthFactor}`);
  let n = 0;
  const tensor = (dims: number[], scale: number) => {
    const size = dims.reduce((p, d) => p * d, 1);
    const data = weights === "random" ? uniform(random, size, -scale, scale) : new Float32Array(size);
    return b.initializer(`w${n++}`, "float32", dims, data);
  };
  const conv = (x: string, cin: number, cout: number, kernel: number[], stride = [1, 1, 1], group = 1, bias = false): string => {
    const fanIn = (cin / group) * kernel[0] * kernel[1] * kernel[2];
    const inputs = [x, tensor([cout, cin / group, ...kernel], Math.sqrt(3 / fanIn))];
    if (bias) inputs.push(tensor([cout], 0.1));
    const pads = kernel.map((k) => Math.floor(k / 2));
    return b.node("Conv", inputs, { kernel_shape: attr.ints(kernel), strides: attr.ints(stride), pads: attr.ints([...pads, ...pads]), group: attr.int(group) });
  };
  const bn = (x: string, ch: number) => {
    const ones = () => b.initializer(`w${n++}`, "float32", [ch], new Float32Array(ch).fill(1));
    return b.node("BatchNormalization", [x, ones(), tensor([ch], 0.1), tensor([ch], 0.1), ones()], { epsilon: attr.float(1e-5) });
  };
  const relu = (x: string) => b.node("Relu", [x]);
  const swish = (x: string) => b.node("Mul", [x, b.node("Sigmoid", [x])]);

  let x = b.input("video", "float32", [1, 3, c.frames, c.crop, c.crop]);
  const stemOut = roundWidth(STEM_DIM_IN, c.widthFactor);
  // Stem: spatial 1x3x3 conv, then a depthwise temporal 5x1x1 conv.
  x = conv(x, 3, stemOut, [1, 3, 3], [1, 2, 2]);
  x = relu(bn(conv(x, stemOut, stemOut, [STEM_KERNEL_T, 1, 1], [1, 1, 1], stemOut), stemOut));

  const stageDims = [STEM_DIM_IN];
  for (let i = 0; i < 3; i++) stageDims.push(roundWidth(stageDims.at(-1)!, 2));
  let dimIn = stemOut;
  let dimOut = stemOut;
  let dimInner = stemOut;
  STAGE_DEPTHS.forEach((depth, stage) => {
    dimOut = roundWidth(stageDims[stage], c.widthFactor);
    dimInner = Math.trunc(BOTTLENECK_FACTOR * dimOut);
    for (let i = 0; i < roundRepeats(depth, c.depthFactor); i++) {
      const blockIn = i === 0 ? dimIn : dimOut;
      const stride = i === 0 ? [1, 2, 2] : [1, 1, 1];
      let shortcut = x;
      if (blockIn !== dimOut || i === 0) {
        shortcut = conv(x, blockIn, dimOut, [1, 1, 1], stride);
        if (blockIn !== dimOut) shortcut = bn(shortcut, dimOut);
      }
      let y = relu(bn(conv(x, blockIn, dimInner, [1, 1, 1]), dimInner));
      y = bn(conv(y, dimInner, dimInner, [3, 3, 3], stride, dimInner), dimInner);
      if (i % 2 === 0) {
        // Squeeze-excite on every other block, starting with the first.
        const reduced = roundWidth(dimInner, SE_RATIO);
        const gate = b.node("Sigmoid", [conv(relu(conv(b.node("GlobalAveragePool", [y]), dimInner, reduced, [1, 1, 1], [1, 1, 1], 1, true)), reduced, dimInner, [1, 1, 1], [1, 1, 1], 1, true)]);
        y = b.node("Mul", [y, gate]);
      }
      y = bn(conv(swish(y), dimInner, dimOut, [1, 1, 1]), dimOut);
      x = relu(b.node("Add", [shortcut, y]));
    }
    dimIn = dimOut;
  });

  // Head: projected pool over the whole final map (fixed kernel, as in create_x3d), Linear per position, mean.
  x = relu(bn(conv(x, dimOut, dimInner, [1, 1, 1]), dimInner));
  const side = Math.ceil(c.crop / SPATIAL_STRIDE);
  x = b.node("AveragePool", [x], { kernel_shape: attr.ints([c.frames, side, side]), strides: attr.ints([1, 1, 1]) });
  x = relu(conv(x, dimInner, c.headDimOut, [1, 1, 1]));
  x = b.node("Transpose", [x], { perm: attr.ints([0, 2, 3, 4, 1]) });
  x = b.node("Add", [b.node("MatMul", [x, tensor([c.headDimOut, classes], Math.sqrt(3 / c.headDimOut))]), tensor([classes], 0.1)]);
  x = b.node("Transpose", [x], { perm: attr.ints([0, 4, 1, 2, 3]) });
  b.node("Flatten", [b.node("GlobalAveragePool", [x])], { axis: attr.int(1) }, ["logits"]);
  b.output("logits", "float32", [1, classes]);
  return makeModel(b.build());
}

/** Multiply-adds (the zoo convention, as count_macs) and trainable parameters of a built candidate. */
export function x3dCost(model: Model): X3dCost {
  const cost = graphCost(model.graph, inferTypes(model.graph));
  // BatchNorm's running mean and variance are buffers in PyTorch, not parameters.
  const sizes = new Map(model.graph.initializers.map((t) => [t.name, t.dims.reduce((p, d) => p * d, 1)]));
  const statistics = model.graph.nodes
    .filter((node) => node.op === "BatchNormalization")
    .reduce((sum, node) => sum + sizes.get(node.inputs[3])! + sizes.get(node.inputs[4])!, 0);
  return { macs: cost.macs, params: cost.parameters - statistics };
}
