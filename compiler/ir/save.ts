// Model -> ONNX bytes. onnx-proto encodes the modeled fields; the `extra` bytes
// of each message (fields the IR does not model) are spliced back in after.
import { writeFile } from "node:fs/promises";
import onnxProto from "onnx-proto";
import { dtypeCode } from "./dtype.ts";
import { toProtoInt64 } from "./int64.ts";
import { encodeUtf8, tensorToProto } from "./tensor.ts";
import type { Attribute, Graph, Int, Model, Node, Tensor, TensorType, ValueInfo } from "./types.ts";
import { validateModel } from "./validate.ts";
import { MODEL, spliceExtras } from "./wire.ts";

const { onnx } = onnxProto;
type ProtoObject = object;

// The extra bytes of the proto objects toModelProto builds, keyed by object
// so they follow those objects into encodeModelProto.
const EXTRAS = new WeakMap<ProtoObject, Uint8Array>();

function withExtra<T extends ProtoObject>(proto: T, extra: Uint8Array | undefined): T {
  if (extra) EXTRAS.set(proto, extra);
  return proto;
}

/** The onnx-proto message for a model. Encode it with encodeModelProto to keep the unmodeled fields. */
export function toModelProto(model: Model): onnxProto.onnx.IModelProto {
  return withExtra(
    {
      irVersion: model.irVersion,
      opsetImport: model.opsetImports.map((o) => ({ domain: o.domain, version: o.version })),
      // Unset fields stay unset, as the file had them.
      ...(model.producerName && { producerName: model.producerName }),
      ...(model.producerVersion && { producerVersion: model.producerVersion }),
      ...(model.domain && { domain: model.domain }),
      ...(model.modelVersion && { modelVersion: model.modelVersion }),
      ...(model.docString && { docString: model.docString }),
      metadataProps: model.metadataProps.map((e) => ({ key: e.key, value: e.value })),
      graph: graphToProto(model.graph),
    },
    model.extra,
  );
}

/** Serializes a proto from toModelProto, splicing back the fields the IR does not model. */
export function encodeModelProto(proto: onnxProto.onnx.IModelProto): Uint8Array {
  const encoded = onnx.ModelProto.encode(proto).finish();
  return hasExtras(proto) ? spliceExtras(encoded, MODEL, proto as Record<string, unknown>, EXTRAS) : encoded;
}

function hasExtras(value: unknown): boolean {
  if (value === null || typeof value !== "object" || ArrayBuffer.isView(value)) return false;
  if (EXTRAS.has(value)) return true;
  return Object.values(value).some(hasExtras);
}

export function encodeModel(model: Model): Uint8Array {
  return encodeModelProto(toModelProto(model));
}

/** Validates and writes a model; returns the bytes written. */
export async function saveModel(model: Model, path: string): Promise<Uint8Array> {
  validateModel(model, path);
  const bytes = encodeModel(model);
  await writeFile(path, bytes);
  return bytes;
}

function graphToProto(g: Graph): onnxProto.onnx.IGraphProto {
  return withExtra(
    {
      node: g.nodes.map(nodeToProto),
      name: g.name,
      initializer: g.initializers.map(tensorProto),
      ...(g.docString && { docString: g.docString }),
      input: g.inputs.map(valueInfoToProto),
      output: g.outputs.map(valueInfoToProto),
      valueInfo: g.valueInfo.map(valueInfoToProto),
    },
    g.extra,
  );
}

function tensorProto(t: Tensor): onnxProto.onnx.ITensorProto {
  return withExtra(tensorToProto(t), t.extra);
}

function nodeToProto(n: Node): onnxProto.onnx.INodeProto {
  return withExtra(
    {
      input: [...n.inputs],
      output: [...n.outputs],
      ...(n.name && { name: n.name }),
      opType: n.op,
      ...(n.domain && { domain: n.domain }),
      attribute: Object.entries(n.attributes).map(([name, a]) => attributeToProto(name, a)),
      ...(n.docString && { docString: n.docString }),
    },
    n.extra,
  );
}

const T = onnx.AttributeProto.AttributeType;

function attributeToProto(name: string, a: Attribute): onnxProto.onnx.IAttributeProto {
  // protobufjs writes int64 from a number or a {low, high} pair; its typings only name Long.
  const int64 = (v: Int) => toProtoInt64(v) as number;
  let p: onnxProto.onnx.IAttributeProto;
  switch (a.type) {
    case "float": p = { type: T.FLOAT, f: a.value }; break;
    case "int": p = { type: T.INT, i: int64(a.value) }; break;
    case "string": p = { type: T.STRING, s: encodeUtf8(a.value) }; break;
    case "tensor": p = { type: T.TENSOR, t: tensorProto(a.value) }; break;
    case "graph": p = { type: T.GRAPH, g: graphToProto(a.value) }; break;
    case "floats": p = { type: T.FLOATS, floats: [...a.value] }; break;
    case "ints": p = { type: T.INTS, ints: a.value.map(int64) }; break;
    case "strings": p = { type: T.STRINGS, strings: a.value.map(encodeUtf8) }; break;
    case "tensors": p = { type: T.TENSORS, tensors: a.value.map(tensorProto) }; break;
    case "graphs": p = { type: T.GRAPHS, graphs: a.value.map(graphToProto) }; break;
    case "opaque": p = { type: a.onnxType }; break;
  }
  return withExtra({ name, ...p }, a.extra);
}

function valueInfoToProto(v: ValueInfo): onnxProto.onnx.IValueInfoProto {
  return withExtra(
    {
      name: v.name,
      ...(v.type && { type: { tensorType: tensorTypeToProto(v.type) } }),
      ...(v.docString && { docString: v.docString }),
    },
    v.extra,
  );
}

function tensorTypeToProto(t: TensorType): onnxProto.onnx.TypeProto.ITensor {
  return {
    elemType: dtypeCode(t.dtype),
    ...(t.shape && {
      shape: {
        dim: t.shape.map((d) => (typeof d === "number" ? { dimValue: d } : typeof d === "string" ? { dimParam: d } : {})),
      },
    }),
  };
}
