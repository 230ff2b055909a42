// A text form of a graph for people: one line per node,
//   %23 = Conv(%video, %w0, %b0) {kernel_shape=[3,3,3], group=1} : float32[1,24,8,32,32]
// Types show once known (declared, or written by inferShapes). A Swish's Mul
// and a squeeze-excite block's scaling Mul say so (patterns.ts).
import { elementCount } from "./dtype.ts";
import { subgraphsOf } from "./graph.ts";
import { findSqueezeExcite, findSwish } from "./patterns.ts";
import type { Attribute, Dim, Graph, Node, Tensor, TensorType } from "./types.ts";

export function printGraph(graph: Graph): string {
  return printLines(graph, "").join("\n");
}

function printLines(graph: Graph, indent: string): string[] {
  const types = new Map<string, TensorType>();
  for (const v of [...graph.inputs, ...graph.valueInfo, ...graph.outputs]) if (v.type) types.set(v.name, v.type);
  const initializers = new Set(graph.initializers.map((t) => t.name));
  const signature = (names: readonly { name: string }[]) =>
    names.map((v) => `${value(v.name)}: ${formatType(types.get(v.name))}`).join(", ");
  const inputs = graph.inputs.filter((i) => !initializers.has(i.name));
  const lines = [`${indent}graph ${quote(graph.name)}(${signature(inputs)}) -> (${signature(graph.outputs)}) {`];
  const inner = `${indent}  `;
  for (const t of graph.initializers) lines.push(`${inner}${value(t.name)} = ${formatTensor(t)}`);
  const notes = new Map<number, string>([
    ...findSwish(graph).map((s) => [s.mul, "[swish]"] as const),
    ...findSqueezeExcite(graph).map((se) => [se.scale, "[squeeze-excite]"] as const),
  ]);
  for (const [i, node] of graph.nodes.entries()) {
    lines.push(`${inner}${formatNode(node, types, notes.get(i))}`);
    for (const sub of subgraphsOf(node)) lines.push(...printLines(sub, `${inner}  `));
  }
  lines.push(`${inner}return ${graph.outputs.map((o) => value(o.name)).join(", ")}`, `${indent}}`);
  return lines;
}

function formatNode(node: Node, types: ReadonlyMap<string, TensorType>, note?: string): string {
  const outputs = node.outputs.map(value).join(", ");
  const op = node.domain ? `${node.domain}.${node.op}` : node.op;
  const attrs = Object.entries(node.attributes).map(([k, a]) => `${k}=${formatAttribute(a)}`);
  const known = node.outputs.filter((o) => o && types.has(o));
  const type = known.length ? ` : ${node.outputs.filter((o) => o).map((o) => formatType(types.get(o))).join(", ")}` : "";
  const comment = [node.name, note].filter(Boolean).join(" ");
  const name = comment ? `  # ${comment}` : "";
  return `${outputs} = ${op}(${node.inputs.map(value).join(", ")})${attrs.length ? ` {${attrs.join(", ")}}` : ""}${type}${name}`;
}

function formatAttribute(a: Attribute): string {
  switch (a.type) {
    case "float": return formatFloat(a.value);
    case "int": return String(a.value);
    case "string": return JSON.stringify(a.value);
    case "tensor": return formatTensor(a.value);
    case "graph": return `graph ${quote(a.value.name)}`;
    case "floats": return `[${a.value.map(formatFloat).join(",")}]`;
    case "ints": return `[${a.value.join(",")}]`;
    case "strings": return `[${a.value.map((s) => JSON.stringify(s)).join(",")}]`;
    case "tensors": return `[${a.value.map(formatTensor).join(", ")}]`;
    case "graphs": return `[${a.value.map((g) => `graph ${quote(g.name)}`).join(", ")}]`;
    case "opaque": return `<attribute type ${a.onnxType}>`;
  }
}

const INLINE_ELEMENTS = 8;
// Types whose storage holds the element values themselves (not bit patterns or packed bytes).
const PLAIN = new Set([
  "float32", "float64", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "bool", "string",
]);

/** `float32[2,3]`, with the values when there are only a few (shapes, axes, scalars). */
function formatTensor(t: Tensor): string {
  const type = `${t.dtype}[${t.dims.join(",")}]`;
  if (elementCount(t.dims) > INLINE_ELEMENTS || !PLAIN.has(t.dtype)) return type;
  const items = Array.from(t.data as ArrayLike<number | bigint | string>, (v) =>
    t.dtype === "float32" ? formatFloat(v as number) : typeof v === "string" ? JSON.stringify(v) : String(v),
  );
  return `${type} {${items.join(", ")}}`;
}

export function formatType(t: TensorType | undefined): string {
  if (!t) return "?";
  return t.shape ? `${t.dtype}[${t.shape.map(formatDim).join(",")}]` : `${t.dtype}[...]`;
}

function formatDim(d: Dim): string {
  return d === null ? "?" : String(d);
}

/** The shortest decimal that reads back as the same float32 (attributes are float32). */
function formatFloat(v: number): string {
  for (let digits = 1; digits <= 9; digits++) {
    const s = Number(v.toPrecision(digits));
    if (Math.fround(s) === v) return String(s);
  }
  return String(v);
}

function value(name: string): string {
  return name === "" ? "_" : `%${quote(name)}`;
}

function quote(name: string): string {
  return /^[\w.:/-]+$/.test(name) ? name : JSON.stringify(name);
}
