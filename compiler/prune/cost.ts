// What a graph costs, as `compile inspect` counts it (ir/cost.ts): parameters
// and multiply-adds per clip (batch 1). MACs are NaN when shape inference
// cannot type every Conv/MatMul/Gemm/Einsum, so budgets on them fail clearly.
import { graphCost as irGraphCost, withSymbolicDimsAsOne, type Graph } from "../ir/index.ts";
import { tolerantTypes } from "./groups.ts";

export interface Cost {
  readonly params: number;
  readonly macs: number;
}

export function graphCost(graph: Graph): Cost {
  const fixed = withSymbolicDimsAsOne(graph);
  const cost = irGraphCost(fixed, tolerantTypes(fixed));
  return { params: cost.parameters, macs: cost.uncounted ? NaN : cost.macs };
}
