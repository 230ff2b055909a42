// The compiler's in-memory form of an ONNX model. Plain immutable data:
// passes build new objects and share the unchanged ones, never mutate.
//
// `extra` holds, as raw protobuf bytes, the fields of a message that the IR
// does not model (newer ONNX fields such as node metadata_props, overload,
// model functions and training info, tensor and attribute doc strings). The
// saver writes them back verbatim, so an unmodified model round-trips without
// losing anything the IR does not understand.
import type { DType, TensorData } from "./dtype.ts";

export type { DType, TensorData } from "./dtype.ts";

/** A dimension: a size, a symbolic name (dim_param, e.g. "batch"), or null when unknown. */
export type Dim = number | string | null;

export interface TensorType {
  readonly dtype: DType;
  /** undefined when even the rank is unknown; [] for a scalar. */
  readonly shape?: readonly Dim[];
}

export interface ValueInfo {
  readonly name: string;
  /**
   * The tensor type, or undefined when absent or not a plain tensor type
   * (sequences, maps, types with denotations): those stay verbatim in `extra`.
   */
  readonly type?: TensorType;
  readonly docString?: string;
  readonly extra?: Uint8Array;
}

export interface Tensor {
  readonly name: string;
  readonly dtype: DType;
  readonly dims: readonly number[];
  /** Elements in row-major order; see dtype.ts for the storage of each dtype. */
  readonly data: TensorData;
  readonly extra?: Uint8Array;
}

/** int64 values: a number when exactly representable (the usual case), else a bigint. */
export type Int = number | bigint;

export type AttributeValue =
  | { readonly type: "float"; readonly value: number }
  | { readonly type: "int"; readonly value: Int }
  | { readonly type: "string"; readonly value: string }
  | { readonly type: "tensor"; readonly value: Tensor }
  | { readonly type: "graph"; readonly value: Graph }
  | { readonly type: "floats"; readonly value: readonly number[] }
  | { readonly type: "ints"; readonly value: readonly Int[] }
  | { readonly type: "strings"; readonly value: readonly string[] }
  | { readonly type: "tensors"; readonly value: readonly Tensor[] }
  | { readonly type: "graphs"; readonly value: readonly Graph[] }
  // Sparse tensors and type protos: the value stays verbatim in `extra`.
  | { readonly type: "opaque"; readonly onnxType: number };

export type Attribute = AttributeValue & { readonly extra?: Uint8Array };

export interface Node {
  readonly name: string;
  readonly op: string;
  /** "" for the default ONNX domain. */
  readonly domain: string;
  /** "" marks an omitted optional input or output. */
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  /** In file order. */
  readonly attributes: Readonly<Record<string, Attribute>>;
  readonly docString?: string;
  readonly extra?: Uint8Array;
}

export interface Graph {
  readonly name: string;
  /** Nodes in topological order. */
  readonly nodes: readonly Node[];
  /** Includes initializer-backed inputs in IR < 4 models, where every initializer is also an input. */
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
  readonly initializers: readonly Tensor[];
  /** Types of intermediate values (written by shape inference). */
  readonly valueInfo: readonly ValueInfo[];
  readonly docString?: string;
  readonly extra?: Uint8Array;
}

export interface OpsetImport {
  /** "" (or "ai.onnx") is the default ONNX operator set. */
  readonly domain: string;
  readonly version: number;
}

export interface MetadataProp {
  readonly key: string;
  readonly value: string;
}

export interface Model {
  readonly irVersion: number;
  readonly opsetImports: readonly OpsetImport[];
  readonly producerName: string;
  readonly producerVersion: string;
  readonly domain: string;
  readonly modelVersion: number;
  readonly docString?: string;
  readonly metadataProps: readonly MetadataProp[];
  readonly graph: Graph;
  readonly extra?: Uint8Array;
}
