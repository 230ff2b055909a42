// Queries over a Graph that passes, the validator and shape inference share.
import { IrProblem } from "./errors.ts";
import type { Attribute, Graph, Int, Model, Node, Tensor } from "./types.ts";

/** How errors name a node: by name when it has one, else by position and first output. */
export function describeNode(node: Node, index: number): string {
  return node.name
    ? `node "${node.name}" (${node.op})`
    : `node #${index} (${node.op}${node.outputs[0] ? ` -> %${node.outputs[0]}` : ""})`;
}

/** Whether a node's op is from the default ONNX operator set. */
export function isDefaultDomain(node: Node): boolean {
  return node.domain === "" || node.domain === "ai.onnx";
}

/** The version of the default ONNX operator set the model imports, or undefined. */
export function defaultOpset(model: Model): number | undefined {
  return model.opsetImports.find((o) => o.domain === "" || o.domain === "ai.onnx")?.version;
}

export function subgraphsOf(node: Node): Graph[] {
  return Object.values(node.attributes).flatMap((a) =>
    a.type === "graph" ? [a.value] : a.type === "graphs" ? [...a.value] : [],
  );
}

/** Names a graph reads but does not define: values it takes from enclosing scopes. */
function freeVariables(graph: Graph): Set<string> {
  const defined = new Set<string>([...graph.inputs.map((i) => i.name), ...graph.initializers.map((t) => t.name)]);
  const free = new Set<string>();
  for (const node of graph.nodes) {
    for (const name of valuesRead(node)) if (!defined.has(name)) free.add(name);
    for (const o of node.outputs) defined.add(o);
  }
  for (const o of graph.outputs) if (!defined.has(o.name)) free.add(o.name);
  return free;
}

/** Every value a node reads: its non-empty inputs and what its subgraphs take from outside. */
export function valuesRead(node: Node): string[] {
  const names = node.inputs.filter((i) => i !== "");
  for (const g of subgraphsOf(node)) names.push(...freeVariables(g));
  return names;
}

export function initializerMap(graph: Graph): Map<string, Tensor> {
  return new Map(graph.initializers.map((t) => [t.name, t]));
}

/**
 * Initializers whose values are fixed. One that is also listed as a graph
 * input (every initializer, in IR < 4 models) is a default the caller may
 * override, so passes must not fold it.
 */
export function constantInitializers(graph: Graph): Map<string, Tensor> {
  const inputs = new Set(graph.inputs.map((i) => i.name));
  return new Map(graph.initializers.filter((t) => !inputs.has(t.name)).map((t) => [t.name, t]));
}

/** Node index producing each value. */
export function producerIndex(graph: Graph): Map<string, number> {
  const map = new Map<string, number>();
  graph.nodes.forEach((n, i) => n.outputs.forEach((o) => o !== "" && map.set(o, i)));
  return map;
}

/** How many times each value is read, counting nodes, subgraphs and graph outputs. */
export function useCounts(graph: Graph): Map<string, number> {
  const counts = new Map<string, number>();
  const add = (name: string) => counts.set(name, (counts.get(name) ?? 0) + 1);
  for (const node of graph.nodes) valuesRead(node).forEach(add);
  for (const o of graph.outputs) add(o.name);
  return counts;
}

/** Renames values wherever they are read, subgraphs included (ONNX names are unique across scopes). */
export function renameReads(graph: Graph, renames: ReadonlyMap<string, string>): Graph {
  if (renames.size === 0) return graph;
  const rename = (n: string) => renames.get(n) ?? n;
  return {
    ...graph,
    nodes: graph.nodes.map((node) => renameNodeReads(node, renames)),
    outputs: graph.outputs.map((o) => (renames.has(o.name) ? { ...o, name: rename(o.name) } : o)),
  };
}

function renameNodeReads(node: Node, renames: ReadonlyMap<string, string>): Node {
  const inputs = node.inputs.map((i) => renames.get(i) ?? i);
  const attributes: Record<string, Attribute> = {};
  let subgraphChanged = false;
  for (const [key, a] of Object.entries(node.attributes)) {
    if (a.type === "graph") {
      attributes[key] = { ...a, value: renameReads(a.value, renames) };
      subgraphChanged = true;
    } else if (a.type === "graphs") {
      attributes[key] = { ...a, value: a.value.map((g) => renameReads(g, renames)) };
      subgraphChanged = true;
    } else attributes[key] = a;
  }
  const inputsChanged = inputs.some((n, i) => n !== node.inputs[i]);
  if (!inputsChanged && !subgraphChanged) return node;
  return { ...node, inputs, attributes: subgraphChanged ? attributes : node.attributes };
}

/** A name not used anywhere in the graph, derived from `base`. */
export function uniqueName(taken: ReadonlySet<string>, base: string): string {
  if (!taken.has(base)) return base;
  for (let i = 1; ; i++) if (!taken.has(`${base}_${i}`)) return `${base}_${i}`;
}

/** Every value name defined in the graph (inputs, initializers, node outputs). */
export function definedNames(graph: Graph): Set<string> {
  return new Set([
    ...graph.inputs.map((i) => i.name),
    ...graph.initializers.map((t) => t.name),
    ...graph.nodes.flatMap((n) => n.outputs),
  ]);
}

// Typed attribute accessors: a missing attribute gives the default (or
// undefined), one of the wrong type an IrProblem.

function attribute<T extends Attribute["type"]>(node: Node, name: string, type: T) {
  const a = node.attributes[name];
  if (a === undefined) return undefined;
  if (a.type !== type) throw new IrProblem(`attribute ${name} is ${a.type}, expected ${type}`);
  return a as Extract<Attribute, { type: T }>;
}

function asNumber(v: Int, what: string): number {
  if (typeof v === "bigint") throw new IrProblem(`${what} is ${v}, too large`);
  return v;
}

export function getInt(node: Node, name: string, fallback: number): number;
export function getInt(node: Node, name: string): number | undefined;
export function getInt(node: Node, name: string, fallback?: number): number | undefined {
  const a = attribute(node, name, "int");
  return a ? asNumber(a.value, `attribute ${name}`) : fallback;
}

export function getInts(node: Node, name: string): number[] | undefined {
  return attribute(node, name, "ints")?.value.map((v) => asNumber(v, `attribute ${name}`));
}

export function getFloat(node: Node, name: string, fallback: number): number {
  return attribute(node, name, "float")?.value ?? fallback;
}

export function getString(node: Node, name: string, fallback: string): string {
  return attribute(node, name, "string")?.value ?? fallback;
}

/**
 * The tensor a Constant node produces (named after its output), or undefined
 * for a sparse constant, which the IR keeps opaque.
 */
export function constantValue(node: Node): Tensor | undefined {
  const name = node.outputs[0] ?? "";
  const entries = Object.entries(node.attributes);
  if (entries.length !== 1) throw new IrProblem(`a Constant needs exactly one value attribute, found ${entries.length}`);
  const [key, a] = entries[0];
  const make = (dtype: "float32" | "int64" | "string", data: Tensor["data"], scalar: boolean): Tensor =>
    ({ name, dtype, dims: scalar ? [] : [data.length], data });
  if (key === "value" && a.type === "tensor") return { ...a.value, name };
  if (key === "value_float" && a.type === "float") return make("float32", Float32Array.of(a.value), true);
  if (key === "value_floats" && a.type === "floats") return make("float32", Float32Array.from(a.value), false);
  if (key === "value_int" && a.type === "int") return make("int64", BigInt64Array.of(BigInt(a.value)), true);
  if (key === "value_ints" && a.type === "ints") return make("int64", BigInt64Array.from(a.value, (v) => BigInt(v)), false);
  if (key === "value_string" && a.type === "string") return make("string", [a.value], true);
  if (key === "value_strings" && a.type === "strings") return make("string", [...a.value], false);
  if (key === "sparse_value" && a.type === "opaque") return undefined;
  throw new IrProblem(`unsupported Constant attribute ${key} (${a.type})`);
}

/** The graph with its inputs' symbolic dims (the batch) set to 1: random inputs, latency, costs and exactness checks need fixed shapes. */
export function withSymbolicDimsAsOne(graph: Graph): Graph {
  const inputs = graph.inputs.map((i) =>
    i.type?.shape ? { ...i, type: { ...i.type, shape: i.type.shape.map((d) => (typeof d === "number" ? d : 1)) } } : i,
  );
  return { ...graph, inputs };
}

/** The model with `withSymbolicDimsAsOne` applied to its graph. */
export function batchOne(model: Model): Model {
  return { ...model, graph: withSymbolicDimsAsOne(model.graph) };
}
