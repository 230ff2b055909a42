import onnxProto from "onnx-proto";
import { describe, expect, it } from "vitest";
import { dtypeCode, type DType } from "./dtype.ts";
import { decodeTensor, tensorToProto } from "./tensor.ts";
import type { Tensor } from "./types.ts";

const { onnx } = onnxProto;

const encode = (p: onnxProto.onnx.ITensorProto) => onnx.TensorProto.encode(p).finish();

/** The tensor from typed fields, and again after writing it back (as raw_data) and reading that. */
function viaTypedFields(dtype: DType, dims: number[], fields: onnxProto.onnx.ITensorProto): [Tensor, Tensor] {
  const tensor = decodeTensor(encode({ name: "t", dims, dataType: dtypeCode(dtype), ...fields }));
  return [tensor, decodeTensor(encode(tensorToProto(tensor)))];
}

describe("tensor data", () => {
  it.each<[DType, onnxProto.onnx.ITensorProto, Tensor["data"]]>([
    ["float32", { floatData: [1.5, -2] }, Float32Array.of(1.5, -2)],
    ["float64", { doubleData: [0.1, 1e300] }, Float64Array.of(0.1, 1e300)],
    ["int32", { int32Data: [-7, 2 ** 31 - 1] }, Int32Array.of(-7, 2 ** 31 - 1)],
    ["int8", { int32Data: [-128, 127] }, Int8Array.of(-128, 127)],
    ["uint8", { int32Data: [0, 255] }, Uint8Array.of(0, 255)],
    ["bool", { int32Data: [1, 0] }, Uint8Array.of(1, 0)],
    ["uint16", { int32Data: [65535, 1] }, Uint16Array.of(65535, 1)],
    ["float16", { int32Data: [0x3c00, 0xc000] }, Uint16Array.of(0x3c00, 0xc000)],
    // protobufjs writes int64 fields from {low, high} pairs; its typings only name Long.
    ["int64", { int64Data: [{ low: -1, high: 0x7fffffff } as never, -3] }, BigInt64Array.of(2n ** 63n - 1n, -3n)],
    ["uint32", { uint64Data: [4294967295, 7] }, Uint32Array.of(4294967295, 7)],
    ["uint64", { uint64Data: [{ low: -1, high: -1 } as never, 5] }, BigUint64Array.of(2n ** 64n - 1n, 5n)],
    ["string", { stringData: [new TextEncoder().encode("ü"), new Uint8Array()] }, ["ü", ""]],
  ])("reads %s from its typed field and writes it back losslessly", (dtype, fields, expected) => {
    const [tensor, again] = viaTypedFields(dtype, [2], fields);
    expect(tensor).toEqual({ name: "t", dtype, dims: [2], data: expected });
    expect(again).toEqual(tensor);
  });

  it("reads raw_data (little-endian) into aligned typed arrays, packed int4 included", () => {
    // An odd offset into a larger buffer: decoding must copy, not view.
    const buffer = new Uint8Array(13);
    buffer.set(new Uint8Array(Float32Array.of(3.25, -1).buffer), 1);
    const t = decodeTensor(encode({ name: "w", dims: [2], dataType: 1, rawData: buffer.subarray(1, 9) }));
    expect(t.data).toEqual(Float32Array.of(3.25, -1));
    const int4 = decodeTensor(encode({ name: "q", dims: [3], dataType: dtypeCode("int4"), rawData: Uint8Array.of(0x21, 0x0f) }));
    expect(int4).toMatchObject({ dtype: "int4", dims: [3], data: Uint8Array.of(0x21, 0x0f) });
  });

  it("explains data that does not fit the dims, bad raw_data lengths and external data", () => {
    expect(() => decodeTensor(encode({ name: "t", dims: [3], dataType: 1, floatData: [1, 2] }))).toThrow(
      'tensor "t" has dims [3] (3 float32 elements) but holds 2 storage elements, expected 3',
    );
    expect(() => decodeTensor(encode({ name: "t", dims: [1], dataType: 1, rawData: Uint8Array.of(1, 2, 3) }))).toThrow(
      'tensor "t" has 3 bytes of raw_data, not a multiple of 4',
    );
    expect(() => decodeTensor(encode({ name: "t", dims: [1], dataType: 1, dataLocation: 1 }))).toThrow(
      'tensor "t" keeps its data in an external file; external data is not supported',
    );
  });
});
