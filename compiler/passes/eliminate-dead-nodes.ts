// Removes nodes none of whose outputs reach a graph output, initializers no
// node reads, and value_info entries for values that no longer exist.
import { definedNames, valuesRead, type Graph, type Node } from "../ir/index.ts";
import { count, type Pass } from "./pass.ts";

export const eliminateDeadNodes: Pass = {
  name: "eliminate-dead-nodes",
  run(graph) {
    const live = new Set(graph.outputs.map((o) => o.name));
    const kept: Node[] = [];
    // Walk backwards: a node lives if a live value needs one of its outputs.
    for (let i = graph.nodes.length - 1; i >= 0; i--) {
      const node = graph.nodes[i];
      if (!node.outputs.some((o) => live.has(o))) continue;
      kept.push(node);
      valuesRead(node).forEach((name) => live.add(name));
    }
    kept.reverse();
    const initializers = graph.initializers.filter((t) => live.has(t.name));
    const removedInitializers = new Set(graph.initializers.filter((t) => !live.has(t.name)).map((t) => t.name));
    const result: Graph = {
      ...graph,
      nodes: kept,
      initializers,
      // IR < 4 lists initializers as inputs too; those go with their initializer.
      inputs: graph.inputs.filter((i) => !removedInitializers.has(i.name)),
    };
    const defined = definedNames(result);
    const valueInfo = graph.valueInfo.filter((v) => defined.has(v.name));
    const nodes = graph.nodes.length - kept.length;
    return {
      graph: { ...result, valueInfo },
      summary: `removed ${count(nodes, "dead node")} and ${count(removedInitializers.size, "unused initializer")}`,
    };
  },
};
