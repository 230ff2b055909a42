import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import onnxProto from "onnx-proto";
import { describe, expect, it } from "vitest";
import { seededRandom } from "../random.ts";
import { videoModel } from "../testing/video-model.ts";
import { GraphBuilder, makeModel } from "./build.ts";
import { OnnxError } from "./errors.ts";
import { decodeModel, loadModel } from "./load.ts";
import { encodeModel } from "./save.ts";
import type { Graph, Model } from "./types.ts";
import { validateModel } from "./validate.ts";

const { onnx } = onnxProto;

/** The OnnxError message for decoding `bytes` as file "m.onnx". */
function decodeError(bytes: Uint8Array): string {
  try {
    decodeModel(bytes, "m.onnx");
  } catch (e) {
    expect(e).toBeInstanceOf(OnnxError);
    return (e as Error).message;
  }
  throw new Error("expected an OnnxError");
}

function validationError(model: Model): string {
  expect(() => validateModel(model, "m.onnx")).toThrow(OnnxError);
  try {
    validateModel(model, "m.onnx");
  } catch (e) {
    return (e as Error).message;
  }
  return "";
}

/** Relu(x) -> a, Relu(a) -> y, with `edit` applied to the graph. */
function twoRelus(edit: (g: Graph) => Graph = (g) => g): Model {
  const b = new GraphBuilder("g");
  b.input("x", "float32", [2]);
  b.node("Relu", ["x"], {}, ["a"]);
  b.node("Relu", ["a"], {}, ["y"]);
  b.output("y", "float32", [2]);
  return makeModel(edit(b.build()));
}

describe("loading malformed files", () => {
  const valid = encodeModel(videoModel());

  it("explains a missing file, an empty file, random bytes, a truncated file and a non-ONNX protobuf", async () => {
    const dir = await mkdtemp(join(tmpdir(), "edgevid-validate-"));
    await expect(loadModel(join(dir, "nope.onnx"))).rejects.toThrow(`${join(dir, "nope.onnx")}: no such file`);
    await writeFile(join(dir, "empty.onnx"), new Uint8Array());
    await expect(loadModel(join(dir, "empty.onnx"))).rejects.toThrow(`${join(dir, "empty.onnx")}: empty file (0 bytes)`);

    expect(decodeError(new TextEncoder().encode("this is not an onnx file at all"))).toMatch(/^m\.onnx: not a valid ONNX file \(truncated, or not ONNX at all\): protobuf decoding failed: /);
    expect(decodeError(valid.subarray(0, valid.length - 100))).toMatch(/^m\.onnx: not a valid ONNX file \(truncated, or not ONNX at all\): protobuf decoding failed: index out of range/);
    const notOnnx = onnx.TensorProto.encode({ name: "t", dims: [1], dataType: 1, floatData: [1] }).finish();
    expect(decodeError(notOnnx)).toBe(
      "m.onnx: not a valid ONNX file (truncated, or not ONNX at all): protobuf decoding failed: invalid wire type 4 at offset 14",
    );
    expect(decodeError(onnx.ModelProto.encode({ irVersion: 8 }).finish())).toBe("m.onnx: no graph (is this an ONNX model?)");
  });

  it("never throws anything but OnnxError on truncated or corrupted bytes", () => {
    const random = seededRandom(42);
    let loaded = 0;
    for (let i = 0; i < 1000; i++) {
      const bytes = i < 500 ? valid.subarray(0, Math.floor(random() * valid.length)) : new Uint8Array(valid);
      if (i >= 500) for (let k = 0; k <= i % 3; k++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
      try {
        decodeModel(bytes, "fuzz.onnx");
        loaded++;
      } catch (e) {
        if (!(e instanceof OnnxError) || !e.message.startsWith("fuzz.onnx: ")) throw e;
      }
    }
    // Flipping bytes inside weights leaves a valid model: both paths were taken.
    expect(loaded).toBeGreaterThan(100);
    expect(loaded).toBeLessThan(900);
  });

  it("names the tensor whose data does not match its dims, or whose type is unknown", () => {
    const proto = () => onnx.ModelProto.decode(encodeModel(videoModel()));
    const short = proto();
    const weight = short.graph!.initializer![0];
    weight.rawData = weight.rawData!.subarray(4);
    expect(decodeError(onnx.ModelProto.encode(short).finish())).toBe(
      'm.onnx: tensor "stem.weight" has dims [8,3,3,3,3] (648 float32 elements) but holds 647 storage elements, expected 648',
    );
    const unknown = proto();
    unknown.graph!.initializer![1].dataType = 99;
    expect(decodeError(onnx.ModelProto.encode(unknown).finish())).toBe('m.onnx: tensor "stem.bias" has unknown data type 99');
  });

  it("rejects unsupported IR versions and opsets", () => {
    expect(decodeError(encodeModel({ ...twoRelus(), irVersion: 2 }))).toBe("m.onnx: unsupported IR version 2 (supported: 3 to 13)");
    expect(decodeError(encodeModel({ ...twoRelus(), opsetImports: [{ domain: "", version: 99 }] }))).toBe(
      "m.onnx: unsupported opset 99 (supported: 6 to 26)",
    );
    expect(decodeError(encodeModel({ ...twoRelus(), opsetImports: [{ domain: "com.microsoft", version: 1 }] }))).toBe(
      "m.onnx: no opset_import for the default ONNX domain",
    );
  });
});

describe("validateModel", () => {
  it("accepts the test models", () => {
    expect(() => validateModel(twoRelus(), "m.onnx")).not.toThrow();
    expect(() => validateModel(videoModel(), "m.onnx")).not.toThrow();
  });

  it("names a node input that nothing produces", () => {
    const model = twoRelus((g) => ({ ...g, nodes: [g.nodes[0], { ...g.nodes[1], inputs: ["ghost"] }] }));
    expect(validationError(model)).toBe('m.onnx: graph "g": node "Relu_1" (Relu) reads %ghost, which nothing produces');
  });

  it("names a value defined twice", () => {
    const model = twoRelus((g) => ({ ...g, nodes: [g.nodes[0], { ...g.nodes[1], outputs: ["a"] }] }));
    expect(validationError(model)).toContain('graph "g": %a is defined twice (again by node "Relu_1" (Relu))');
  });

  it("names a cycle, and nodes out of topological order", () => {
    const cyclic = twoRelus((g) => ({ ...g, nodes: [{ ...g.nodes[0], inputs: ["y"] }, g.nodes[1]] }));
    expect(validationError(cyclic)).toMatch(
      /^m\.onnx: graph "g": cycle: node "Relu_0" \(Relu\) -> node "Relu_1" \(Relu\) -> node "Relu_0" \(Relu\)/,
    );
    const unsorted = twoRelus((g) => ({ ...g, nodes: [g.nodes[1], g.nodes[0]] }));
    expect(validationError(unsorted)).toBe(
      'm.onnx: graph "g": node "Relu_1" (Relu) reads %a before node "Relu_0" (Relu) produces it (nodes must be in topological order)',
    );
  });

  it("names an unproduced graph output and an initializer whose size does not match its dims", () => {
    const model = twoRelus((g) => ({
      ...g,
      outputs: [...g.outputs, { name: "z" }],
      initializers: [{ name: "w", dtype: "float32", dims: [2, 3], data: new Float32Array(5) }],
    }));
    const message = validationError(model);
    expect(message).toContain('graph "g": graph output %z is never produced');
    expect(message).toContain('graph "g": initializer "w" has dims [2,3] but 5 elements of data');
  });

  it("lets subgraphs read values of the enclosing graph, but not undefined ones", () => {
    const branch = (reads: string) => {
      const b = new GraphBuilder("branch");
      b.node("Identity", [reads], {}, [`out_${reads}`]);
      b.output(`out_${reads}`, "float32");
      return b.build();
    };
    const withIf = (reads: string) =>
      twoRelus((g) => ({
        ...g,
        nodes: [...g.nodes, { ...g.nodes[0], name: "if", op: "If", inputs: ["x"], outputs: ["z"],
          attributes: { then_branch: { type: "graph", value: branch(reads) }, else_branch: { type: "graph", value: branch(reads) } } }],
      }));
    expect(() => validateModel(withIf("a"), "m.onnx")).not.toThrow();
    expect(validationError(withIf("nowhere"))).toContain('graph "branch": node "Identity_0" (Identity) reads %nowhere, which nothing produces');
  });
});
