// TensorProto <-> Tensor. Reading accepts raw_data and every typed field;
// writing always uses raw_data (strings: string_data), as onnx itself does.
import onnxProto from "onnx-proto";
import {
  allocate, dtypeCode, dtypeFromCode, elementCount, fromRawBytes, rawBytes, storageBytes, storageLength, typedField,
  type DType, type TensorData,
} from "./dtype.ts";
import { IrProblem } from "./errors.ts";
import { toBigInt, toSafeNumber, toUnsignedBigInt, type ProtoInt64 } from "./int64.ts";
import type { Tensor } from "./types.ts";
import { TENSOR, fieldBytes, splitFields } from "./wire.ts";

const { onnx } = onnxProto;

const utf8 = new TextDecoder("utf-8", { fatal: true });
const utf8Encoder = new TextEncoder();

/** Decodes UTF-8 bytes; `what` names them in the error if they are not valid UTF-8. */
export function decodeUtf8(bytes: Uint8Array, what: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new IrProblem(`${what} is not valid UTF-8 (binary strings are not supported)`);
  }
}

export function encodeUtf8(text: string): Uint8Array {
  return utf8Encoder.encode(text);
}

const FIELD_DATA_TYPE = 2;
const FIELD_SEGMENT = 3;
const FIELD_DATA_LOCATION = 14;

/**
 * Builds a Tensor from a decoded TensorProto and its encoded bytes (for the
 * fields onnx-proto does not model). Throws IrProblem on anything it cannot
 * represent faithfully.
 */
export function tensorFromProto(p: onnxProto.onnx.ITensorProto, raw: Uint8Array): Tensor {
  const name = p.name ?? "";
  const what = `tensor "${name}"`;
  const fields = splitFields(raw);
  if (!fields.some((f) => f.number === FIELD_DATA_TYPE)) throw new IrProblem(`${what} has no data type`);
  const dtype = dtypeFromCode(p.dataType ?? 0);
  if (!dtype) throw new IrProblem(`${what} has unknown data type ${p.dataType}`);
  if (p.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    throw new IrProblem(`${what} keeps its data in an external file; external data is not supported`);
  }
  if (fields.some((f) => f.number === FIELD_SEGMENT)) throw new IrProblem(`${what} is segmented; not supported`);
  const dims = (p.dims ?? []).map((d) => toSafeNumber(d, `a dimension of ${what}`));
  if (dims.some((d) => d < 0)) throw new IrProblem(`${what} has negative dims [${dims.join(",")}]`);
  const data = readData(p, dtype, what);
  const expected = storageLength(dtype, elementCount(dims));
  if (data.length !== expected) {
    throw new IrProblem(
      `${what} has dims [${dims.join(",")}] (${elementCount(dims)} ${dtype} elements) but holds ${data.length} ` +
        `storage elements, expected ${expected}`,
    );
  }
  // data_location is DEFAULT here (EXTERNAL was refused above), so it need not be kept.
  const extra = fieldBytes(fields, (n) => !TENSOR.modeled.has(n) && n !== FIELD_DATA_LOCATION);
  return { name, dtype, dims, data, ...(extra && { extra }) };
}

function readData(p: onnxProto.onnx.ITensorProto, dtype: DType, what: string): TensorData {
  if (dtype === "string") return (p.stringData ?? []).map((s, i) => decodeUtf8(s, `element ${i} of ${what}`));
  if (p.rawData && p.rawData.length > 0) {
    const width = storageBytes(dtype)!;
    if (p.rawData.length % width !== 0) {
      throw new IrProblem(`${what} has ${p.rawData.length} bytes of raw_data, not a multiple of ${width}`);
    }
    return fromRawBytes(dtype, p.rawData);
  }
  const field = typedField(dtype);
  const values = (p[field] ?? []) as (number | ProtoInt64)[];
  const out = allocate(dtype, values.length) as Exclude<TensorData, string[]>;
  if (out instanceof BigInt64Array) values.forEach((v, i) => (out[i] = toBigInt(v as ProtoInt64)));
  else if (out instanceof BigUint64Array) values.forEach((v, i) => (out[i] = toUnsignedBigInt(v as ProtoInt64)));
  // Typed arrays convert on assignment: int32_data holds 8/16-bit values and
  // bit patterns; uint64_data holds uint32 values.
  else values.forEach((v, i) => (out[i] = typeof v === "number" ? v : Number(toUnsignedBigInt(v))));
  return out;
}

/** The TensorProto fields for a Tensor (its `extra` bytes are the caller's to splice). */
export function tensorToProto(t: Tensor): onnxProto.onnx.ITensorProto {
  const p: onnxProto.onnx.ITensorProto = { dims: [...t.dims], dataType: dtypeCode(t.dtype), name: t.name };
  if (Array.isArray(t.data)) p.stringData = t.data.map(encodeUtf8);
  else p.rawData = rawBytes(t.data);
  return p;
}

/** Decodes a standalone serialized TensorProto (e.g. the backend tests' input_0.pb). */
export function decodeTensor(bytes: Uint8Array): Tensor {
  return tensorFromProto(onnx.TensorProto.decode(bytes), bytes);
}
