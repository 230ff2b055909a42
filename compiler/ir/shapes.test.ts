import { describe, expect, it } from "vitest";
import { compareWithOnnxruntime } from "../testing/shape-check.ts";
import { videoModel } from "../testing/video-model.ts";
import { GraphBuilder, attr, makeModel } from "./build.ts";
import { decodeModel } from "./load.ts";
import { encodeModel } from "./save.ts";
import { inferShapes, inferTypes } from "./shapes.ts";

describe("shape inference", () => {
  it("infers every shape of the test video model", () => {
    const shapes = Object.fromEntries([...inferTypes(videoModel().graph)].map(([k, v]) => [k, v.shape]));
    expect(shapes).toMatchObject({
      conv0: [1, 8, 4, 8, 8],
      batchnormalization1: [1, 8, 4, 8, 8],
      conv4: [1, 8, 4, 8, 8],
      mul7: [1, 8, 4, 8, 8],
      globalaveragepool8: [1, 8, 1, 1, 1],
      flatten9: [1, 8],
      gemm10: [1, 5],
      constant11: [],
      reducemean13: [1, 3],
      logits: [1, 5],
    });
  });

  it("matches onnxruntime on every op it knows (opset 18: axes as inputs)", async () => {
    const b = new GraphBuilder("ops");
    const x = b.input("x", "float32", [2, 4, 5, 9, 7]);
    const k = (n: number) => b.initializer(`k${n}`, "float32", [6, 2, 3, 3, 3], new Float32Array(6 * 2 * 27));
    const grouped = b.node("Conv", [x, k(0)], { group: attr.int(2), strides: attr.ints([2, 2, 3]), pads: attr.ints([1, 0, 1, 1, 0, 2]) });
    const same = b.node("Conv", [x, k(1)], { group: attr.int(2), strides: attr.ints([1, 2, 2]), auto_pad: attr.string("SAME_UPPER") });
    const dilated = b.node("Conv", [x, k(2)], { group: attr.int(2), dilations: attr.ints([1, 2, 2]) });
    b.node("MaxPool", [x], { kernel_shape: attr.ints([2, 3, 3]), strides: attr.ints([2, 2, 2]), ceil_mode: attr.int(1) }, ["maxpool", "indices"]);
    b.node("AveragePool", [x], { kernel_shape: attr.ints([1, 3, 3]), pads: attr.ints([0, 1, 1, 0, 1, 1]), strides: attr.ints([1, 2, 2]) });
    const scale = b.initializer("scale", "float32", [6], new Float32Array(6).fill(1));
    const zero = b.initializer("zero", "float32", [6], new Float32Array(6));
    const bn = b.node("BatchNormalization", [grouped, scale, zero, zero, scale]);
    const act = b.node("Mul", [b.node("Relu", [bn]), b.node("Sigmoid", [bn])]);
    b.node("Add", [same, b.initializer("bias", "float32", [6, 1, 1, 1], new Float32Array(6))]);
    b.node("GlobalAveragePool", [dilated]);
    const axes = (name: string, values: bigint[]) => b.initializer(name, "int64", [values.length], BigInt64Array.from(values));
    const mean = b.node("ReduceMean", [act, axes("axes234", [2n, -2n, 4n])], { keepdims: attr.int(0) });
    b.node("ReduceMean", [act, axes("axes1", [1n])]);
    const squeezed = b.node("Squeeze", [b.node("Unsqueeze", [mean, axes("axes0", [0n, -1n])]), axes("axes_sq", [0n, -1n])]);
    const flat = b.node("Flatten", [act], { axis: attr.int(-3) });
    const reshaped = b.node("Reshape", [act, axes("shape", [0n, -1n, 3n])]);
    b.node("Transpose", [reshaped], { perm: attr.ints([2, 0, 1]) });
    b.node("Transpose", [flat]);
    b.node("Softmax", [flat], { axis: attr.int(-1) });
    const fcw = b.initializer("fcw", "float32", [4, 6], new Float32Array(24));
    b.node("Gemm", [squeezed, fcw, b.initializer("fcb", "float32", [4], new Float32Array(4))], { transB: attr.int(1) });
    const batched = b.node("Reshape", [flat, axes("shape3", [2n, 6n, -1n])]);
    b.node("MatMul", [batched, b.initializer("m", "float32", [3, 1, 36, 5], new Float32Array(540))]);
    b.node("Identity", [b.node("Constant", [], { value_floats: attr.floats([1, 2]) })]);
    const model = makeModel(b.build(), [{ domain: "", version: 18 }]);

    const compared = await compareWithOnnxruntime(model);
    expect(compared.length).toBe(model.graph.nodes.flatMap((n) => n.outputs).length);
    for (const { name, inferred, actual } of compared) expect({ name, ...inferred }).toEqual({ name, ...actual });
  });

  it("matches onnxruntime with opset 11 forms (axes as attributes) and keeps a symbolic batch", async () => {
    const b = new GraphBuilder("old");
    const x = b.input("x", "float32", [1, 3, 4, 2]);
    const u = b.node("Unsqueeze", [x], { axes: attr.ints([0, 3]) });
    const s = b.node("Squeeze", [u], { axes: attr.ints([0]) });
    b.node("Squeeze", [b.node("ReduceMean", [s], { axes: attr.ints([-1]) })]);
    const compared = await compareWithOnnxruntime(makeModel(b.build(), [{ domain: "", version: 11 }]));
    for (const { name, inferred, actual } of compared) expect({ name, ...inferred }).toEqual({ name, ...actual });

    const symbolic = videoModel().graph;
    const types = inferTypes({ ...symbolic, inputs: [{ name: "video", type: { dtype: "float32", shape: ["N", 3, 4, 16, 16] } }] });
    expect(types.get("conv0")?.shape).toEqual(["N", 8, 4, 8, 8]);
    expect(types.get("flatten9")?.shape).toEqual(["N", 8]);
    // The declared output [1,5] refines the symbolic batch.
    expect(types.get("logits")?.shape).toEqual([1, 5]);
  });

  it("evaluates the shape computations exporters emit, so Reshape, Expand and Slice get sizes (onnxruntime agrees)", async () => {
    const b = new GraphBuilder("shape-ops");
    const x = b.input("x", "float32", [2, 3, 4, 5]);
    const i64 = (name: string, values: bigint[]) => b.initializer(name, "int64", [values.length], BigInt64Array.from(values));
    const shape = b.node("Shape", [x]);
    const batch = b.node("Unsqueeze", [b.node("Gather", [shape, b.initializer("zero", "int64", [], BigInt64Array.of(0n))]), i64("ax0", [0n])]);
    const flat = b.node("Reshape", [x, b.node("Concat", [batch, i64("minus1", [-1n])], { axis: attr.int(0) })]); // [2, 60]
    // torchscript's Expand target: Where(Equal(s, -1), ones, s)
    const target = i64("target", [-1n, 60n]);
    const ones = b.node("ConstantOfShape", [i64("two", [2n])], { value: attr.tensor({ name: "", dtype: "int64", dims: [1], data: BigInt64Array.of(1n) }) });
    const fixed = b.node("Where", [b.node("Equal", [target, i64("m1", [-1n])]), ones, target]);
    b.node("Expand", [flat, fixed]);
    b.node("Range", [b.initializer("s", "int64", [], BigInt64Array.of(1n)), b.node("Size", [x]), b.initializer("d", "int64", [], BigInt64Array.of(40n))]);
    b.node("Slice", [x, b.node("Slice", [shape, i64("st", [1n]), i64("en", [3n])]), i64("big", [9223372036854775807n, 9223372036854775807n]), i64("axes", [0n, 1n])]);
    b.node("Split", [flat, i64("parts", [20n, 40n])], { axis: attr.int(1) }, ["left", "right"]);
    b.node("Einsum", [flat, b.node("Transpose", [flat])], { equation: attr.string("ij,jk->ik") });
    b.node("LayerNormalization", [x, b.initializer("g", "float32", [5], new Float32Array(5).fill(1))], { axis: attr.int(-1) });
    const compared = await compareWithOnnxruntime(makeModel(b.build(), [{ domain: "", version: 17 }]));
    for (const { name, inferred, actual } of compared) expect({ name, ...inferred }).toEqual({ name, ...actual });
  });

  it("writes inferred types into value_info, keeping existing entries' other fields", () => {
    const graph = videoModel().graph;
    const shaped = inferShapes({ ...graph, valueInfo: [{ name: "conv0", docString: "stem" }] });
    expect(shaped.valueInfo.find((v) => v.name === "conv0")).toEqual({
      name: "conv0",
      docString: "stem",
      type: { dtype: "float32", shape: [1, 8, 4, 8, 8] },
    });
    expect(shaped.valueInfo.map((v) => v.name)).not.toContain("logits");
    expect(shaped.valueInfo).toHaveLength(14);
  });

  it("says which op and node it does not know, yet such models load and save", () => {
    const b = new GraphBuilder("g");
    b.input("x", "float32", [2]);
    b.node("Det", ["x"], {}, ["y"]);
    b.output("y", "float32", [2]);
    const model = makeModel(b.build());
    expect(() => inferShapes(model.graph, "m.onnx")).toThrow(
      'm.onnx: shape inference does not know op Det at node "Det_0" (Det)',
    );
    expect(decodeModel(encodeModel(model))).toEqual(model);
  });

  it("names the node whose inputs do not fit, and contradictions with declared types", () => {
    const conv = new GraphBuilder("g");
    conv.input("x", "float32", [1, 3, 8, 8]);
    conv.node("Conv", ["x", conv.initializer("w", "float32", [4, 2, 3, 3], new Float32Array(72))], {}, ["y"]);
    conv.output("y", "float32");
    expect(() => inferShapes(conv.build(), "m.onnx")).toThrow(
      'm.onnx: node "Conv_0" (Conv): input has 3 channels but the weight expects 2 x group 1',
    );

    const declared = new GraphBuilder("g");
    declared.input("x", "float32", [2, 3]);
    declared.node("Transpose", ["x"], {}, ["y"]);
    declared.output("y", "float32", [2, 3]);
    expect(() => inferShapes(declared.build(), "m.onnx")).toThrow(
      'm.onnx: node "Transpose_0" (Transpose): inferred float32[3,2] for %y but the graph declares float32[2,3]',
    );

    const dynamic = new GraphBuilder("g");
    dynamic.input("x", "float32", [2, 3]);
    dynamic.input("shape", "int64", [2]);
    dynamic.node("Reshape", ["x", "shape"], {}, ["y"]);
    dynamic.output("y", "float32");
    // A shape known only at run time: the rank is known, the sizes are not.
    expect(inferTypes(dynamic.build(), "m.onnx").get("y")).toEqual({ dtype: "float32", shape: [null, null] });
  });
});
