// Simple constant folding: Constant nodes become initializers, and Identity
// nodes go away (their readers read the Identity's input instead).
import {
  constantValue, definedNames, describeNode, IrProblem, isDefaultDomain, OnnxError, renameReads, type Node, type Tensor,
} from "../ir/index.ts";
import { count, type Pass } from "./pass.ts";

export const foldConstants: Pass = {
  name: "fold-constants",
  run(graph) {
    const graphOutputs = new Set(graph.outputs.map((o) => o.name));
    const initializers: Tensor[] = [...graph.initializers];
    const nodes: Node[] = [];
    const producer = new Map<string, number>(); // value -> index in `nodes`
    const renames = new Map<string, string>(); // every read of key becomes a read of value
    const current = (name: string) => renames.get(name) ?? name;
    let constants = 0;
    let identities = 0;

    graph.nodes.forEach((node, index) => {
      if (isDefaultDomain(node) && node.op === "Constant") {
        const value = constantOf(node, index);
        if (value) {
          initializers.push(value);
          constants++;
          return;
        }
      }
      if (isDefaultDomain(node) && node.op === "Identity" && node.inputs.length === 1 && node.outputs.length === 1) {
        const x = current(node.inputs[0]);
        const y = node.outputs[0];
        if (!graphOutputs.has(y)) {
          renames.set(y, x);
          identities++;
          return;
        }
        // y is a graph output, whose name must stay: let x's producer write y instead.
        const p = producer.get(x);
        if (p !== undefined && !graphOutputs.has(x)) {
          nodes[p] = { ...nodes[p], outputs: nodes[p].outputs.map((o) => (o === x ? y : o)) };
          producer.set(y, p);
          for (const [from, to] of renames) if (to === x) renames.set(from, y);
          renames.set(x, y);
          identities++;
          return;
        }
      }
      node.outputs.forEach((o) => producer.set(o, nodes.length));
      nodes.push(node);
    });

    const folded = renameReads({ ...graph, nodes, initializers }, renames);
    const defined = definedNames(folded);
    return {
      graph: { ...folded, valueInfo: graph.valueInfo.filter((v) => defined.has(v.name)) },
      summary: `converted ${count(constants, "Constant node")} to initializers, removed ${count(identities, "Identity node")}`,
    };
  },
};

function constantOf(node: Node, index: number): Tensor | undefined {
  try {
    return constantValue(node);
  } catch (e) {
    if (e instanceof IrProblem) throw new OnnxError(foldConstants.name, [`${describeNode(node, index)}: ${e.message}`]);
    throw e;
  }
}
