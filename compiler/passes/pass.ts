// A pass is a pure function from graph to graph that says what it did.
// It never mutates its input: unchanged nodes and tensors are shared.
import type { Graph } from "../ir/index.ts";

export interface PassResult {
  readonly graph: Graph;
  /** One line for logs and the manifest's provenance, e.g. "folded 3 BatchNormalization nodes into Conv". */
  readonly summary: string;
}

export interface Pass {
  /** kebab-case, as recorded in the manifest's provenance.passes (e.g. "fold-batchnorm"). */
  readonly name: string;
  readonly run: (graph: Graph) => PassResult;
}

/** "1 node", "3 nodes". */
export function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}
