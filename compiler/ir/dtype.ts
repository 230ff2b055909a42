// ONNX element types: the readable names the IR uses, their TensorProto codes,
// and how their elements are stored in memory (the typed array a Tensor holds).

export type DType =
  | "float32" | "uint8" | "int8" | "uint16" | "int16" | "int32" | "int64" | "string" | "bool"
  | "float16" | "float64" | "uint32" | "uint64" | "complex64" | "complex128" | "bfloat16"
  | "float8e4m3fn" | "float8e4m3fnuz" | "float8e5m2" | "float8e5m2fnuz"
  | "uint4" | "int4" | "float4e2m1" | "float8e8m0" | "uint2" | "int2";

/** The typed array (or string list) that holds a tensor's elements. */
export type TensorData =
  | Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array
  | Int32Array | Uint32Array | BigInt64Array | BigUint64Array | string[];

type Storage = "f32" | "f64" | "i8" | "u8" | "i16" | "u16" | "i32" | "u32" | "i64" | "u64" | "string";

/** Which TensorProto typed field holds this type when raw_data is not used. */
type TypedField = "floatData" | "int32Data" | "stringData" | "int64Data" | "doubleData" | "uint64Data";

interface DTypeInfo {
  readonly code: number;
  readonly storage: Storage;
  // Storage elements per tensor element: 2 for complex numbers; fractional for
  // sub-byte types, which ONNX packs into bytes (two int4 per byte, four int2).
  readonly perElement: number;
  readonly field: TypedField;
}

const INFO: Readonly<Record<DType, DTypeInfo>> = {
  float32: { code: 1, storage: "f32", perElement: 1, field: "floatData" },
  uint8: { code: 2, storage: "u8", perElement: 1, field: "int32Data" },
  int8: { code: 3, storage: "i8", perElement: 1, field: "int32Data" },
  uint16: { code: 4, storage: "u16", perElement: 1, field: "int32Data" },
  int16: { code: 5, storage: "i16", perElement: 1, field: "int32Data" },
  int32: { code: 6, storage: "i32", perElement: 1, field: "int32Data" },
  int64: { code: 7, storage: "i64", perElement: 1, field: "int64Data" },
  string: { code: 8, storage: "string", perElement: 1, field: "stringData" },
  bool: { code: 9, storage: "u8", perElement: 1, field: "int32Data" },
  // Half-precision and fp8 types keep their bit patterns.
  float16: { code: 10, storage: "u16", perElement: 1, field: "int32Data" },
  float64: { code: 11, storage: "f64", perElement: 1, field: "doubleData" },
  uint32: { code: 12, storage: "u32", perElement: 1, field: "uint64Data" },
  uint64: { code: 13, storage: "u64", perElement: 1, field: "uint64Data" },
  complex64: { code: 14, storage: "f32", perElement: 2, field: "floatData" },
  complex128: { code: 15, storage: "f64", perElement: 2, field: "doubleData" },
  bfloat16: { code: 16, storage: "u16", perElement: 1, field: "int32Data" },
  float8e4m3fn: { code: 17, storage: "u8", perElement: 1, field: "int32Data" },
  float8e4m3fnuz: { code: 18, storage: "u8", perElement: 1, field: "int32Data" },
  float8e5m2: { code: 19, storage: "u8", perElement: 1, field: "int32Data" },
  float8e5m2fnuz: { code: 20, storage: "u8", perElement: 1, field: "int32Data" },
  uint4: { code: 21, storage: "u8", perElement: 1 / 2, field: "int32Data" },
  int4: { code: 22, storage: "u8", perElement: 1 / 2, field: "int32Data" },
  float4e2m1: { code: 23, storage: "u8", perElement: 1 / 2, field: "int32Data" },
  float8e8m0: { code: 24, storage: "u8", perElement: 1, field: "int32Data" },
  uint2: { code: 25, storage: "u8", perElement: 1 / 4, field: "int32Data" },
  int2: { code: 26, storage: "u8", perElement: 1 / 4, field: "int32Data" },
};

const BY_CODE = new Map<number, DType>(Object.entries(INFO).map(([name, info]) => [info.code, name as DType]));

/** The DType for a TensorProto.DataType code, or undefined for codes this compiler does not know. */
export function dtypeFromCode(code: number): DType | undefined {
  return BY_CODE.get(code);
}

export function dtypeCode(dtype: DType): number {
  return INFO[dtype].code;
}

export function typedField(dtype: DType): TypedField {
  return INFO[dtype].field;
}

/** How many storage elements (typed array length) a tensor of `elements` elements needs. */
export function storageLength(dtype: DType, elements: number): number {
  return Math.ceil(elements * INFO[dtype].perElement);
}

export function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

const BYTES: Record<Exclude<Storage, "string">, number> = {
  f32: 4, f64: 8, i8: 1, u8: 1, i16: 2, u16: 2, i32: 4, u32: 4, i64: 8, u64: 8,
};

/** Bytes per storage element in raw_data; undefined for strings (never stored raw). */
export function storageBytes(dtype: DType): number | undefined {
  const s = INFO[dtype].storage;
  return s === "string" ? undefined : BYTES[s];
}

/** A zero-filled storage array (or list of empty strings) of the given length. */
export function allocate(dtype: DType, length: number): TensorData {
  switch (INFO[dtype].storage) {
    case "f32": return new Float32Array(length);
    case "f64": return new Float64Array(length);
    case "i8": return new Int8Array(length);
    case "u8": return new Uint8Array(length);
    case "i16": return new Int16Array(length);
    case "u16": return new Uint16Array(length);
    case "i32": return new Int32Array(length);
    case "u32": return new Uint32Array(length);
    case "i64": return new BigInt64Array(length);
    case "u64": return new BigUint64Array(length);
    case "string": return new Array<string>(length).fill("");
  }
}

/** Storage array over a copy of little-endian bytes (raw_data). The copy also aligns the data. */
export function fromRawBytes(dtype: DType, bytes: Uint8Array): TensorData {
  const width = storageBytes(dtype);
  if (width === undefined) throw new Error("string tensors have no raw form");
  const out = allocate(dtype, bytes.length / width) as Exclude<TensorData, string[]>;
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

/** The little-endian bytes of a numeric storage array (a view, not a copy). */
export function rawBytes(data: Exclude<TensorData, string[]>): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

// raw_data is little-endian; reading it through typed arrays assumes a little-endian host.
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error("edgevid compiler: big-endian hosts are not supported");
}
