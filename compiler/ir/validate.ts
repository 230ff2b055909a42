// Structural checks on a Model: what onnxruntime would reject, reported as an
// OnnxError naming the file and the node or tensor, all problems at once.
import { elementCount, storageLength } from "./dtype.ts";
import { OnnxError } from "./errors.ts";
import { defaultOpset, describeNode, subgraphsOf, valuesRead } from "./graph.ts";
import type { Graph, Model } from "./types.ts";

// onnxruntime 1.30 (node and web) loads IR versions up to 13. IR 3 introduced
// opset imports; older files cannot say which operator semantics they use.
export const IR_VERSIONS = { min: 3, max: 13 } as const;
// The default-domain opsets this compiler has been checked against: opset 6
// covers the oldest backend test models, 26 is onnxruntime 1.30's newest.
export const OPSETS = { min: 6, max: 26 } as const;

export function validateModel(model: Model, source: string): void {
  const problems = modelProblems(model);
  if (problems.length) throw new OnnxError(source, problems);
}

export function modelProblems(model: Model): string[] {
  const problems: string[] = [];
  const { min, max } = IR_VERSIONS;
  if (model.irVersion < min || model.irVersion > max) {
    problems.push(`unsupported IR version ${model.irVersion} (supported: ${min} to ${max})`);
  }
  const domains = model.opsetImports.map((o) => (o.domain === "ai.onnx" ? "" : o.domain));
  const dup = domains.find((d, i) => domains.indexOf(d) !== i);
  if (dup !== undefined) problems.push(`opset_import lists domain "${dup}" twice`);
  const opset = defaultOpset(model);
  if (opset === undefined) problems.push("no opset_import for the default ONNX domain");
  else if (opset < OPSETS.min || opset > OPSETS.max) {
    problems.push(`unsupported opset ${opset} (supported: ${OPSETS.min} to ${OPSETS.max})`);
  }
  if (model.graph.outputs.length === 0) problems.push("the graph has no outputs");
  problems.push(...graphProblems(model.graph, new Set()));
  return problems;
}

/** Problems in a graph; `outer` holds the names visible from enclosing graphs (for subgraphs). */
function graphProblems(graph: Graph, outer: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  const where = graph.name ? `graph "${graph.name}": ` : "";
  const defined = new Set<string>();
  const define = (name: string, what: string) => {
    if (defined.has(name)) problems.push(`${where}%${name} is defined twice (again by ${what})`);
    defined.add(name);
  };
  for (const i of graph.inputs) define(i.name, "a graph input");
  const inputNames = new Set(graph.inputs.map((i) => i.name));
  const initializerNames = new Set<string>();
  for (const t of graph.initializers) {
    if (initializerNames.has(t.name)) problems.push(`${where}initializer "${t.name}" is defined twice`);
    initializerNames.add(t.name);
    // An initializer may share its name with a graph input: it is that input's default value.
    if (!inputNames.has(t.name)) define(t.name, `initializer "${t.name}"`);
    if (t.dims.some((d) => !Number.isInteger(d) || d < 0)) {
      problems.push(`${where}initializer "${t.name}" has invalid dims [${t.dims.join(",")}]`);
    } else if (t.data.length !== storageLength(t.dtype, elementCount(t.dims))) {
      problems.push(
        `${where}initializer "${t.name}" has dims [${t.dims.join(",")}] but ${t.data.length} elements of data`,
      );
    }
  }

  const producedBy = new Map<string, number>();
  graph.nodes.forEach((n, i) => n.outputs.forEach((o) => o && !producedBy.has(o) && producedBy.set(o, i)));
  graph.nodes.forEach((node, index) => {
    const label = describeNode(node, index);
    if (!node.op) problems.push(`${where}${label} has no op_type`);
    for (const name of valuesRead(node)) {
      if (defined.has(name) || outer.has(name)) continue;
      const later = producedBy.get(name);
      problems.push(
        later === undefined
          ? `${where}${label} reads %${name}, which nothing produces`
          : `${where}${label} reads %${name} before ${describeNode(graph.nodes[later], later)} produces it` +
              " (nodes must be in topological order)",
      );
    }
    for (const sub of subgraphsOf(node)) problems.push(...graphProblems(sub, new Set([...outer, ...defined])));
    for (const o of node.outputs) if (o) define(o, label);
  });
  for (const o of graph.outputs) {
    if (!defined.has(o.name) && !outer.has(o.name)) problems.push(`${where}graph output %${o.name} is never produced`);
  }
  const cycle = findCycle(graph);
  if (cycle) problems.unshift(`${where}cycle: ${cycle.join(" -> ")}`);
  return problems;
}

/** A dependency cycle among the graph's nodes, as node labels in data-flow order, if there is one. */
function findCycle(graph: Graph): string[] | undefined {
  const producer = new Map<string, number>();
  graph.nodes.forEach((n, i) => n.outputs.forEach((o) => o && producer.set(o, i)));
  const state = new Uint8Array(graph.nodes.length); // 0 new, 1 on the stack, 2 done
  const stack: number[] = [];
  const visit = (i: number): number[] | undefined => {
    state[i] = 1;
    stack.push(i);
    for (const name of valuesRead(graph.nodes[i])) {
      const p = producer.get(name);
      if (p === undefined || state[p] === 2) continue;
      if (state[p] === 1) return [...stack.slice(stack.indexOf(p)), p];
      const found = visit(p);
      if (found) return found;
    }
    stack.pop();
    state[i] = 2;
    return undefined;
  };
  for (let i = 0; i < graph.nodes.length; i++) {
    const found = state[i] === 0 ? visit(i) : undefined;
    // The search walks from readers to producers; reverse it to follow the data.
    if (found) return found.reverse().map((j) => describeNode(graph.nodes[j], j));
  }
  return undefined;
}
