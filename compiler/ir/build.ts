// Building graphs in code: tests construct models with it, and passes use
// its small constructors for the nodes and tensors they create.
import { elementCount, storageLength, type DType, type TensorData } from "./dtype.ts";
import type { Attribute, Dim, Graph, Int, Model, Node, OpsetImport, Tensor, ValueInfo } from "./types.ts";

/** Attribute constructors: ONNX attributes are typed, and JS numbers do not say int or float. */
export const attr = {
  int: (value: Int): Attribute => ({ type: "int", value }),
  ints: (value: readonly Int[]): Attribute => ({ type: "ints", value: [...value] }),
  float: (value: number): Attribute => ({ type: "float", value: Math.fround(value) }),
  floats: (value: readonly number[]): Attribute => ({ type: "floats", value: value.map(Math.fround) }),
  string: (value: string): Attribute => ({ type: "string", value }),
  tensor: (value: Tensor): Attribute => ({ type: "tensor", value }),
};

export function makeTensor(name: string, dtype: DType, dims: readonly number[], data: TensorData): Tensor {
  const expected = storageLength(dtype, elementCount(dims));
  if (data.length !== expected) {
    throw new Error(`tensor "${name}": dims [${dims}] need ${expected} elements, got ${data.length}`);
  }
  return { name, dtype, dims: [...dims], data };
}

export function makeNode(
  op: string,
  inputs: readonly string[],
  outputs: readonly string[],
  attributes: Readonly<Record<string, Attribute>> = {},
  name = "",
): Node {
  return { name, op, domain: "", inputs: [...inputs], outputs: [...outputs], attributes };
}

export function valueInfo(name: string, dtype: DType, shape?: readonly Dim[]): ValueInfo {
  return { name, type: { dtype, ...(shape && { shape: [...shape] }) } };
}

/** Collects inputs, initializers and nodes; names node outputs after their op when not given. */
export class GraphBuilder {
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  private readonly initializers: Tensor[] = [];
  private readonly nodes: Node[] = [];
  private count = 0;

  constructor(private readonly name: string) {}

  input(name: string, dtype: DType, shape: readonly Dim[]): string {
    this.inputs.push(valueInfo(name, dtype, shape));
    return name;
  }

  initializer(name: string, dtype: DType, dims: readonly number[], data: TensorData): string {
    this.initializers.push(makeTensor(name, dtype, dims, data));
    return name;
  }

  /** Adds a node and returns its first output's name. */
  node(
    op: string,
    inputs: readonly string[],
    attributes: Record<string, Attribute> = {},
    outputs?: readonly string[],
  ): string {
    const n = this.count++;
    const outs = outputs ?? [`${op.toLowerCase()}${n}`];
    this.nodes.push(makeNode(op, inputs, outs, attributes, `${op}_${n}`));
    return outs[0];
  }

  output(name: string, dtype: DType, shape?: readonly Dim[]): void {
    this.outputs.push(valueInfo(name, dtype, shape));
  }

  build(): Graph {
    return {
      name: this.name,
      nodes: [...this.nodes],
      inputs: [...this.inputs],
      outputs: [...this.outputs],
      initializers: [...this.initializers],
      valueInfo: [],
    };
  }
}

export function makeModel(graph: Graph, opsetImports: readonly OpsetImport[] = [{ domain: "", version: 17 }]): Model {
  return {
    irVersion: 8,
    opsetImports: [...opsetImports],
    producerName: "edgevid-compiler",
    producerVersion: "",
    domain: "",
    modelVersion: 0,
    metadataProps: [],
    graph,
  };
}
