// A small X3D-like video classifier built in code for tests, with seeded
// random weights: Conv3d -> BN -> Relu -> depthwise Conv3d -> BN -> Swish ->
// GlobalAveragePool -> Flatten -> Gemm, plus the things the simple passes
// clean up (a Constant, Identities, a dead branch, an unused initializer).
import { attr, GraphBuilder, makeModel, type Model } from "../ir/index.ts";
import { seededRandom, uniform } from "../random.ts";

export interface VideoModelOptions {
  readonly seed?: number;
  readonly frames?: number;
  readonly size?: number;
  readonly classes?: number;
  readonly inputName?: string;
  readonly outputName?: string;
}

export const VIDEO_MODEL_DEFAULTS = { frames: 4, size: 16, classes: 5, inputName: "video", outputName: "logits" } as const;

export function videoModel(options: VideoModelOptions = {}): Model {
  const { frames, size, classes, inputName, outputName } = { ...VIDEO_MODEL_DEFAULTS, ...options };
  const random = seededRandom(options.seed ?? 1);
  const b = new GraphBuilder("video_classifier");
  const width = 8;
  const weights = (name: string, dims: number[], scale: number) =>
    b.initializer(name, "float32", dims, uniform(random, dims.reduce((p, d) => p * d, 1), -scale, scale));
  const batchNorm = (x: string, prefix: string) =>
    b.node(
      "BatchNormalization",
      [
        x,
        b.initializer(`${prefix}.scale`, "float32", [width], uniform(random, width, 0.5, 1.5)),
        b.initializer(`${prefix}.shift`, "float32", [width], uniform(random, width, -0.5, 0.5)),
        b.initializer(`${prefix}.mean`, "float32", [width], uniform(random, width, -0.5, 0.5)),
        b.initializer(`${prefix}.var`, "float32", [width], uniform(random, width, 0.5, 2)),
      ],
      { epsilon: attr.float(1e-5) },
    );

  const video = b.input(inputName, "float32", [1, 3, frames, size, size]);
  const stem = b.node("Conv", [video, weights("stem.weight", [width, 3, 3, 3, 3], 0.3), weights("stem.bias", [width], 0.1)], {
    kernel_shape: attr.ints([3, 3, 3]),
    pads: attr.ints([1, 1, 1, 1, 1, 1]),
    strides: attr.ints([1, 2, 2]),
  });
  const relu = b.node("Relu", [batchNorm(stem, "stem.bn")]);
  const kept = b.node("Identity", [relu]);
  const depthwise = b.node("Conv", [kept, weights("dw.weight", [width, 1, 3, 3, 3], 0.3)], {
    kernel_shape: attr.ints([3, 3, 3]),
    pads: attr.ints([1, 1, 1, 1, 1, 1]),
    group: attr.int(width),
  });
  const bn = batchNorm(depthwise, "dw.bn");
  const swish = b.node("Mul", [bn, b.node("Sigmoid", [bn])]);
  const pooled = b.node("GlobalAveragePool", [swish]);
  const features = b.node("Flatten", [pooled], { axis: attr.int(1) });
  const fc = b.node("Gemm", [features, weights("fc.weight", [classes, width], 0.5), weights("fc.bias", [classes], 0.1)], {
    transB: attr.int(1),
  });
  const temperature = b.node("Constant", [], { value_float: attr.float(0.5) });
  const scaled = b.node("Mul", [fc, temperature]);
  // Dead: nothing reads this branch or the spare initializer.
  b.node("ReduceMean", [video], { axes: attr.ints([2, 3, 4]), keepdims: attr.int(0) });
  weights("unused.weight", [4], 1);
  b.node("Identity", [scaled], {}, [outputName]);
  b.output(outputName, "float32", [1, classes]);
  return makeModel(b.build());
}
