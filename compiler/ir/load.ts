// ONNX bytes -> Model. onnx-proto decodes the fields the IR models; wire.ts
// keeps every other field verbatim in `extra`. Anything malformed becomes an
// OnnxError naming the file and the node or tensor, never a protobufjs stack.
import { readFile } from "node:fs/promises";
import onnxProto from "onnx-proto";
import { dtypeFromCode } from "./dtype.ts";
import { IrProblem, OnnxError } from "./errors.ts";
import { describeNode } from "./graph.ts";
import { toInt, toSafeNumber } from "./int64.ts";
import { decodeUtf8, tensorFromProto } from "./tensor.ts";
import type { Attribute, AttributeValue, Dim, Graph, Model, Node, TensorType, ValueInfo } from "./types.ts";
import { validateModel } from "./validate.ts";
import {
  ATTRIBUTE, GRAPH, MODEL, NODE, VALUE_INFO, fieldBytes, payloadsOf, splitFields, unmodeledBytes,
  type WireField,
} from "./wire.ts";

const { onnx } = onnxProto;
type IModelProto = onnxProto.onnx.IModelProto;
type IGraphProto = onnxProto.onnx.IGraphProto;
type INodeProto = onnxProto.onnx.INodeProto;
type IAttributeProto = onnxProto.onnx.IAttributeProto;
type IValueInfoProto = onnxProto.onnx.IValueInfoProto;

/** Reads, decodes and validates an ONNX file. */
export async function loadModel(path: string): Promise<Model> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new OnnxError(path, [code === "ENOENT" ? "no such file" : `cannot read: ${(e as Error).message}`]);
  }
  return decodeModel(bytes, path);
}

/** Decodes and validates ONNX bytes; `source` names them in errors. */
export function decodeModel(bytes: Uint8Array, source = "model"): Model {
  if (bytes.length === 0) throw new OnnxError(source, ["empty file (0 bytes), not an ONNX model"]);
  let proto: onnxProto.onnx.ModelProto;
  let fields: WireField[];
  try {
    proto = onnx.ModelProto.decode(bytes);
    fields = splitFields(bytes);
  } catch (e) {
    const reason = (e as Error).message;
    throw new OnnxError(source, [`not a valid ONNX file (truncated, or not ONNX at all): protobuf decoding failed: ${reason}`]);
  }
  let model: Model;
  try {
    model = modelFromProto(proto, fields);
  } catch (e) {
    if (e instanceof IrProblem) throw new OnnxError(source, [e.message]);
    throw e;
  }
  validateModel(model, source);
  return model;
}

function modelFromProto(p: IModelProto, fields: WireField[]): Model {
  const graphBytes = payloadsOf(fields, 7);
  if (!p.graph || graphBytes.length === 0) throw new IrProblem("no graph (is this an ONNX model?)");
  // A repeated singular message field merges on decode; we model one graph.
  if (graphBytes.length > 1) throw new IrProblem("the graph field occurs more than once");
  const extra = unmodeledBytes(fields, MODEL);
  return {
    irVersion: toSafeNumber(p.irVersion ?? 0, "ir_version"),
    opsetImports: (p.opsetImport ?? []).map((o) => ({
      domain: o.domain ?? "",
      version: toSafeNumber(o.version ?? 0, `the opset version of domain "${o.domain ?? ""}"`),
    })),
    producerName: p.producerName ?? "",
    producerVersion: p.producerVersion ?? "",
    domain: p.domain ?? "",
    modelVersion: toSafeNumber(p.modelVersion ?? 0, "model_version"),
    ...(p.docString && { docString: p.docString }),
    metadataProps: (p.metadataProps ?? []).map((e) => ({ key: e.key ?? "", value: e.value ?? "" })),
    graph: graphFromProto(p.graph, graphBytes[0]),
    ...(extra && { extra }),
  };
}

function graphFromProto(p: IGraphProto, raw: Uint8Array): Graph {
  const fields = splitFields(raw);
  if (fields.some((f) => f.number === 15)) {
    throw new IrProblem(`graph "${p.name ?? ""}" has sparse initializers; not supported`);
  }
  const nodeBytes = payloadsOf(fields, 1, p.node?.length ?? 0);
  const initBytes = payloadsOf(fields, 5, p.initializer?.length ?? 0);
  const inputBytes = payloadsOf(fields, 11, p.input?.length ?? 0);
  const outputBytes = payloadsOf(fields, 12, p.output?.length ?? 0);
  const valueInfoBytes = payloadsOf(fields, 13, p.valueInfo?.length ?? 0);
  const extra = unmodeledBytes(fields, GRAPH);
  return {
    name: p.name ?? "",
    nodes: (p.node ?? []).map((n, i) => nodeFromProto(n, nodeBytes[i], i)),
    inputs: (p.input ?? []).map((v, i) => valueInfoFromProto(v, inputBytes[i])),
    outputs: (p.output ?? []).map((v, i) => valueInfoFromProto(v, outputBytes[i])),
    initializers: (p.initializer ?? []).map((t, i) => tensorFromProto(t, initBytes[i])),
    valueInfo: (p.valueInfo ?? []).map((v, i) => valueInfoFromProto(v, valueInfoBytes[i])),
    ...(p.docString && { docString: p.docString }),
    ...(extra && { extra }),
  };
}

function nodeFromProto(p: INodeProto, raw: Uint8Array, index: number): Node {
  const fields = splitFields(raw);
  const attrBytes = payloadsOf(fields, 5, p.attribute?.length ?? 0);
  const extra = unmodeledBytes(fields, NODE);
  const base = {
    name: p.name ?? "",
    op: p.opType ?? "",
    domain: p.domain ?? "",
    inputs: [...(p.input ?? [])],
    outputs: [...(p.output ?? [])],
  };
  const attributes: Record<string, Attribute> = {};
  try {
    (p.attribute ?? []).forEach((a, i) => {
      const name = a.name ?? "";
      if (name in attributes) throw new IrProblem(`attribute ${name} occurs twice`);
      attributes[name] = attributeFromProto(a, attrBytes[i]);
    });
  } catch (e) {
    if (e instanceof IrProblem) throw new IrProblem(`${describeNode({ ...base, attributes: {} }, index)}: ${e.message}`);
    throw e;
  }
  return { ...base, attributes, ...(p.docString && { docString: p.docString }), ...(extra && { extra }) };
}

const AttributeType = onnx.AttributeProto.AttributeType;

// The AttributeProto field that holds each type's value: older exporters omit
// `type`, and ONNX then infers it from the field that is present.
const VALUE_FIELD: Readonly<Record<number, number>> = {
  [AttributeType.FLOAT]: 2, [AttributeType.INT]: 3, [AttributeType.STRING]: 4, [AttributeType.TENSOR]: 5,
  [AttributeType.GRAPH]: 6, [AttributeType.FLOATS]: 7, [AttributeType.INTS]: 8, [AttributeType.STRINGS]: 9,
  [AttributeType.TENSORS]: 10, [AttributeType.GRAPHS]: 11, [AttributeType.SPARSE_TENSOR]: 22,
  [AttributeType.SPARSE_TENSORS]: 23, [AttributeType.TYPE_PROTO]: 14, [AttributeType.TYPE_PROTOS]: 15,
};

function attributeFromProto(p: IAttributeProto, raw: Uint8Array): Attribute {
  const fields = splitFields(raw);
  const present = new Set(fields.map((f) => f.number));
  const type =
    p.type || Number(Object.keys(VALUE_FIELD).find((t) => present.has(VALUE_FIELD[Number(t)])) ?? AttributeType.UNDEFINED);
  const extra = unmodeledBytes(fields, ATTRIBUTE);
  const value = attributeValue(p, type, fields);
  return extra ? { ...value, extra } : value;
}

function attributeValue(p: IAttributeProto, type: number, fields: WireField[]): AttributeValue {
  const what = `attribute ${p.name}`;
  const need = <T>(value: T | null | undefined): T => {
    if (value === null || value === undefined) throw new IrProblem(`${what} has type ${type} but no value`);
    return value;
  };
  switch (type) {
    case AttributeType.FLOAT: return { type: "float", value: p.f ?? 0 };
    case AttributeType.INT: return { type: "int", value: toInt(p.i ?? 0) };
    case AttributeType.STRING: return { type: "string", value: decodeUtf8(p.s ?? new Uint8Array(), what) };
    case AttributeType.TENSOR: return { type: "tensor", value: tensorFromProto(need(p.t), payloadsOf(fields, 5, 1)[0]) };
    case AttributeType.GRAPH: return { type: "graph", value: graphFromProto(need(p.g), payloadsOf(fields, 6, 1)[0]) };
    case AttributeType.FLOATS: return { type: "floats", value: [...(p.floats ?? [])] };
    case AttributeType.INTS: return { type: "ints", value: (p.ints ?? []).map(toInt) };
    case AttributeType.STRINGS:
      return { type: "strings", value: (p.strings ?? []).map((s, i) => decodeUtf8(s, `element ${i} of ${what}`)) };
    case AttributeType.TENSORS: {
      const bytes = payloadsOf(fields, 10, p.tensors?.length ?? 0);
      return { type: "tensors", value: (p.tensors ?? []).map((t, i) => tensorFromProto(t, bytes[i])) };
    }
    case AttributeType.GRAPHS: {
      const bytes = payloadsOf(fields, 11, p.graphs?.length ?? 0);
      return { type: "graphs", value: (p.graphs ?? []).map((g, i) => graphFromProto(g, bytes[i])) };
    }
    case AttributeType.SPARSE_TENSOR:
    case AttributeType.SPARSE_TENSORS:
    case AttributeType.TYPE_PROTO:
    case AttributeType.TYPE_PROTOS:
      return { type: "opaque", onnxType: type };
    default:
      throw new IrProblem(`${what} has ${type ? `unknown type ${type}` : "no type and no value"}`);
  }
}

function valueInfoFromProto(p: IValueInfoProto, raw: Uint8Array): ValueInfo {
  const fields = splitFields(raw);
  const type = p.type ? plainTensorType(p, fields) : undefined;
  // A type the IR cannot model stays verbatim, with the other unmodeled fields.
  const extra = fieldBytes(fields, (n) => !VALUE_INFO.modeled.has(n) || (n === 2 && !type));
  return {
    name: p.name ?? "",
    ...(type && { type }),
    ...(p.docString && { docString: p.docString }),
    ...(extra && { extra }),
  };
}

/**
 * The tensor type of a value, if its TypeProto is exactly a tensor type with
 * an element type and (optionally) a shape of sized or named dimensions.
 */
function plainTensorType(p: IValueInfoProto, fields: readonly WireField[]): TensorType | undefined {
  const typeFields = splitFields(payloadsOf(fields, 2, 1)[0]);
  if (typeFields.length !== 1 || typeFields[0].number !== 1) return undefined;
  const tensorFields = splitFields(typeFields[0].payload!);
  if (tensorFields.some((f) => f.number !== 1 && f.number !== 2)) return undefined;
  const t = p.type!.tensorType!;
  if (!t.elemType) return undefined;
  const dtype = dtypeFromCode(t.elemType);
  if (!dtype) throw new IrProblem(`value "${p.name}" has unknown element type ${t.elemType}`);
  const shapeBytes = payloadsOf(tensorFields, 2);
  if (shapeBytes.length === 0) return { dtype };
  if (shapeBytes.length > 1) return undefined; // repeated shape fields merge; keep them verbatim
  const dimFields = splitFields(shapeBytes[0]);
  if (dimFields.some((f) => f.number !== 1)) return undefined;
  const dims = payloadsOf(dimFields, 1, t.shape?.dim?.length ?? 0).map(splitFields);
  if (dims.some((d) => d.some((f) => f.number !== 1 && f.number !== 2))) return undefined;
  const shape: Dim[] = (t.shape?.dim ?? []).map((d) => {
    if (Object.hasOwn(d, "dimValue")) return toSafeNumber(d.dimValue!, `a dimension of value "${p.name}"`);
    if (Object.hasOwn(d, "dimParam")) return d.dimParam!;
    return null;
  });
  return { dtype, shape };
}
