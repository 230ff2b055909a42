// Shape inference: the type of every value in a graph, from the declared
// input types, the initializers and one rule per op (shape-rules.ts).
import { IrProblem, OnnxError } from "./errors.ts";
import { constantValue, describeNode, initializerMap, isDefaultDomain } from "./graph.ts";
import { formatType } from "./printer.ts";
import { UnknownShape, type RuleContext } from "./shape-math.ts";
import { SHAPE_RULES } from "./shape-rules.ts";
import { evaluateValues } from "./shape-values.ts";
import type { Dim, Graph, Node, Tensor, TensorType, ValueInfo } from "./types.ts";

/**
 * The graph with a type for every intermediate value in valueInfo (and for
 * graph outputs that declare none). Throws OnnxError for ops it does not know
 * and for declared types that contradict the inferred ones.
 */
export function inferShapes(graph: Graph, source = "graph"): Graph {
  const types = inferTypes(graph, source);
  const declared = new Map(graph.valueInfo.map((v) => [v.name, v]));
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const produced = graph.nodes.flatMap((n) => n.outputs).filter((o) => o && !outputs.has(o));
  const producedSet = new Set(produced);
  const withType = (v: ValueInfo): ValueInfo => {
    const type = types.get(v.name);
    return type ? { ...v, type } : v;
  };
  return {
    ...graph,
    outputs: graph.outputs.map(withType),
    valueInfo: [
      ...produced.map((name) => withType(declared.get(name) ?? { name })),
      // Types recorded for other values (inputs, initializers) stay as they are.
      ...graph.valueInfo.filter((v) => !producedSet.has(v.name)),
    ],
  };
}

/** The type of every value whose type is known, by name. */
export function inferTypes(graph: Graph, source = "graph"): Map<string, TensorType> {
  const types = new Map<string, TensorType>();
  const constants = initializerMap(graph);
  for (const t of graph.initializers) types.set(t.name, { dtype: t.dtype, shape: [...t.dims] });
  for (const i of graph.inputs) if (i.type) types.set(i.name, i.type);
  const declared = new Map<string, TensorType>();
  for (const v of [...graph.valueInfo, ...graph.outputs]) if (v.type) declared.set(v.name, v.type);

  graph.nodes.forEach((node, index) => {
    const fail = (message: string) => new OnnxError(source, [`${describeNode(node, index)}: ${message}`]);
    const rule = isDefaultDomain(node) ? SHAPE_RULES[node.op] : undefined;
    if (!rule) {
      const op = node.domain ? `${node.domain}.${node.op}` : node.op;
      throw new OnnxError(source, [`shape inference does not know op ${op} at ${describeNode(node, index)}`]);
    }
    let outputs: (TensorType | undefined)[];
    try {
      const ctx = context(node, types, constants);
      outputs = rule(ctx);
      if (node.op === "Constant") {
        const value = constantValue(node);
        if (value) constants.set(value.name, value);
      }
      for (const value of evaluateValues(ctx, outputs)) constants.set(value.name, value);
    } catch (e) {
      if (e instanceof UnknownShape) outputs = [];
      else if (e instanceof IrProblem) throw fail(e.message);
      else throw e;
    }
    node.outputs.forEach((name, i) => {
      const inferred = outputs[i];
      if (!name || !inferred) return;
      const known = declared.get(name);
      if (known && !agree(known, inferred)) {
        throw fail(`inferred ${formatType(inferred)} for %${name} but the graph declares ${formatType(known)}`);
      }
      types.set(name, known ? refine(inferred, known) : inferred);
    });
  });
  return types;
}

function context(node: Node, types: ReadonlyMap<string, TensorType>, constants: ReadonlyMap<string, Tensor>): RuleContext {
  const name = (i: number) => node.inputs[i] ?? "";
  const type = (i: number): TensorType => {
    if (!name(i)) throw new IrProblem(`input ${i} is required`);
    const t = types.get(name(i));
    if (!t) throw new UnknownShape();
    return t;
  };
  return {
    node,
    has: (i) => name(i) !== "",
    type,
    shape: (i) => {
      const shape = type(i).shape;
      if (!shape) throw new UnknownShape();
      return shape;
    },
    constant: (i) => constants.get(name(i)),
  };
}

function agree(a: TensorType, b: TensorType): boolean {
  if (a.dtype !== b.dtype) return false;
  if (!a.shape || !b.shape) return true;
  return a.shape.length === b.shape.length && a.shape.every((d, i) => sameSize(d, b.shape![i]));
}

function sameSize(a: Dim, b: Dim): boolean {
  return typeof a !== "number" || typeof b !== "number" || a === b;
}

/** The inferred type, with the declared sizes or names where inference has none. */
function refine(inferred: TensorType, declared: TensorType): TensorType {
  if (!inferred.shape) return declared;
  if (!declared.shape) return inferred;
  const shape = inferred.shape.map((d, i) => (typeof d === "number" ? d : (declared.shape![i] ?? d)));
  return { dtype: inferred.dtype, shape };
}
