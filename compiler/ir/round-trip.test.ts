import onnxProto from "onnx-proto";
import { describe, expect, it } from "vitest";
import { videoModel } from "../testing/video-model.ts";
import { runModel } from "../runtime.ts";
import { GraphBuilder, attr, makeModel, makeNode, makeTensor, valueInfo } from "./build.ts";
import { decodeModel } from "./load.ts";
import { encodeModel } from "./save.ts";
import type { Model } from "./types.ts";
import { concatBytes, payloadsOf, splitFields } from "./wire.ts";

const { onnx } = onnxProto;

/** One length-delimited protobuf field, as a newer ONNX writer would emit it. */
function field(number: number, payload: Uint8Array): Uint8Array {
  const varint = (v: number) => {
    const out: number[] = [];
    for (; v >= 0x80; v >>>= 7) out.push((v & 0x7f) | 0x80);
    return [...out, v];
  };
  return Uint8Array.from([...varint(number * 8 + 2), ...varint(payload.length), ...payload]);
}

const entry = (key: string, value: string) => onnx.StringStringEntryProto.encode({ key, value }).finish();
const text = (s: string) => new TextEncoder().encode(s);

/** A model that exercises every kind of value the IR holds, and fields it does not model. */
function everythingModel(): Model {
  const b = new GraphBuilder("everything");
  const x = b.input("x", "float32", ["batch", 4, null]);
  b.initializer("half", "float16", [2], Uint16Array.of(0x3c00, 0xc000));
  b.initializer("nibbles", "int4", [3], Uint8Array.of(0x21, 0x03));
  b.initializer("words", "string", [2], ["héllo", ""]);
  b.initializer("big", "int64", [2], BigInt64Array.of(-(2n ** 63n), 2n ** 62n));
  const thenBranch = new GraphBuilder("then");
  thenBranch.node("Identity", [x], {}, ["t_out"]);
  thenBranch.output("t_out", "float32");
  const elseBranch = new GraphBuilder("else");
  elseBranch.node("Neg", [x], {}, ["e_out"]);
  elseBranch.output("e_out", "float32");
  const cond = b.node("Constant", [], { value: attr.tensor(makeTensor("", "bool", [], Uint8Array.of(1))) });
  b.node("If", [cond], {
    then_branch: { type: "graph", value: thenBranch.build() },
    else_branch: { type: "graph", value: elseBranch.build() },
  }, ["branch"]);
  b.node("Custom", [x, ""], {
    huge: attr.int(2n ** 62n + 1n),
    small: attr.ints([-1, 0, 2 ** 40]),
    f: attr.float(0.1),
    fs: attr.floats([1.5, -2]),
    s: attr.string("SAME_UPPER"),
    ss: { type: "strings", value: ["a", "ü"] },
    ts: { type: "tensors", value: [makeTensor("t", "float32", [1], Float32Array.of(3))] },
    // A type_proto attribute: not modeled, its value stays verbatim.
    tp: { type: "opaque", onnxType: 13, extra: field(14, onnx.TypeProto.encode({ denotation: "IMAGE" }).finish()) },
  }, ["custom", ""]);
  b.output("branch", "float32", ["batch", 4, null]);
  const graph = b.build();
  const base = makeModel(graph, [{ domain: "", version: 17 }, { domain: "custom.ops", version: 2 }]);
  const [first, ...rest] = graph.nodes;
  return {
    ...base,
    irVersion: 10,
    producerName: "pytorch",
    producerVersion: "2.13.0",
    domain: "ai.edgevid",
    modelVersion: 7,
    docString: "a model",
    metadataProps: [{ key: "labels", value: "a,b" }],
    // model.functions (25): a model-local function, kept verbatim.
    extra: field(25, onnx.FunctionProto.encode({ name: "f", domain: "local", input: ["a"], output: ["b"] }).finish()),
    graph: {
      ...graph,
      docString: "the graph",
      // graph.metadata_props (16), from ONNX 1.16.
      extra: field(16, entry("graph", "meta")),
      inputs: [{ ...graph.inputs[0], docString: "clip", extra: field(4, entry("vi", "meta")) }],
      nodes: [{ ...first, docString: "a constant", extra: concatBytes([field(8, text("overload1")), field(9, entry("k", "v"))]) },
        ...rest.map((n) => (n.op === "Custom" ? { ...n, domain: "custom.ops" } : n)),
      ],
      initializers: graph.initializers.map((t) => ({ ...t, extra: field(12, text(`doc of ${t.name}`)) })),
      valueInfo: [valueInfo("custom", "float32", [2, "n"])],
    },
  };
}

describe("round trip", () => {
  it("load(save(model)) equals the model, and saving again gives the same bytes", () => {
    for (const model of [videoModel(), everythingModel()]) {
      const bytes = encodeModel(model);
      const loaded = decodeModel(bytes, "roundtrip.onnx");
      expect(loaded).toEqual(model);
      expect(Buffer.from(encodeModel(loaded)).equals(Buffer.from(bytes))).toBe(true);
    }
  });

  it("writes unmodeled fields inside the message they came from", () => {
    const bytes = encodeModel(everythingModel());
    const model = splitFields(bytes);
    const graph = splitFields(payloadsOf(model, 7)[0]);
    const node = splitFields(payloadsOf(graph, 1)[0]);
    const metadata = onnx.StringStringEntryProto.decode(payloadsOf(node, 9)[0]);
    expect(metadata).toMatchObject({ key: "k", value: "v" });
    expect(onnx.FunctionProto.decode(payloadsOf(model, 25)[0]).name).toBe("f");
    // onnx-proto decodes the modeled fields of the same bytes.
    expect(onnx.ModelProto.decode(bytes).graph?.node?.[0].docString).toBe("a constant");
  });

  it("keeps fields onnxruntime needs that onnx-proto does not know (model-local functions, node metadata)", async () => {
    const b = new GraphBuilder("uses_function");
    b.input("x", "float32", [3]);
    const graph = { ...b.build(), nodes: [{ ...makeNode("Twice", ["x"], ["y"]), domain: "local", extra: field(9, entry("k", "v")) }] };
    const twice = onnx.FunctionProto.encode({
      name: "Twice", domain: "local", input: ["a"], output: ["b"],
      node: [{ opType: "Add", input: ["a", "a"], output: ["b"] }],
      opsetImport: [{ domain: "", version: 17 }],
    }).finish();
    const model: Model = {
      ...makeModel({ ...graph, outputs: [valueInfo("y", "float32", [3])] }, [{ domain: "", version: 17 }, { domain: "local", version: 1 }]),
      irVersion: 10,
      extra: field(25, twice),
    };
    const resaved = encodeModel(decodeModel(encodeModel(model), "function.onnx"));
    const [y] = await runModel(resaved, [makeTensor("x", "float32", [3], Float32Array.of(1, 2, -3))]);
    expect(Array.from(y.data as Float32Array)).toEqual([2, 4, -6]);
    // Control: without the function the model does not run, so it was really kept.
    await expect(runModel(encodeModel({ ...model, extra: undefined }), [])).rejects.toThrow();
  });
});
