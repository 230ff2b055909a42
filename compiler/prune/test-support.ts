// Test helpers for pruning: small graphs with seeded weights, and the
// exactness check (pruned graph vs the original with those channels zeroed).
import { expect } from "vitest";
import { attr, batchOne, GraphBuilder, makeModel, type Graph, type Model } from "../ir/index.ts";
import { seededRandom, uniform } from "../random.ts";
import { outputDifference } from "../testing/parity.ts";
import { zeroDropped } from "./apply.ts";
import type { PruneResult } from "./index.ts";

/** Max |pruned - zeroed original| on seeded random inputs in onnxruntime. */
export async function exactness(model: Model, result: PruneResult): Promise<number> {
  const zeroed = { ...model, graph: zeroDropped(model.graph, result.analysis, result.keep) };
  return outputDifference(batchOne(zeroed), batchOne({ ...model, graph: result.graph }));
}

/** Proves the pruned graph computes what the original computes with the dropped channels zeroed. */
export async function expectExact(model: Model, result: PruneResult): Promise<void> {
  expect(await exactness(model, result)).toBeLessThanOrEqual(1e-5);
}

/** A GraphBuilder with helpers for conv nets on [1, C, 4, 6, 6] clips. */
export class NetBuilder {
  readonly b = new GraphBuilder("net");
  private readonly random = seededRandom(3);
  private n = 0;

  input(channels: number, size = 6): string {
    return this.b.input("x", "float32", [1, channels, 4, size, size]);
  }

  weights(name: string, dims: number[], lo = -0.5, hi = 0.5): string {
    return this.b.initializer(name, "float32", dims, uniform(this.random, dims.reduce((p, d) => p * d, 1), lo, hi));
  }

  /** A 3x3x3 (or 1x1x1) Conv with bias, named conv<k>. */
  conv(x: string, cin: number, cout: number, options: { group?: number; kernel?: number } = {}): string {
    const k = options.kernel ?? 3;
    const group = options.group ?? 1;
    const name = `conv${this.n++}`;
    return this.b.node(
      "Conv",
      [x, this.weights(`${name}.weight`, [cout, cin / group, k, k, k]), this.weights(`${name}.bias`, [cout])],
      { kernel_shape: attr.ints([k, k, k]), pads: attr.ints(Array(6).fill((k - 1) / 2)), group: attr.int(group) },
      [name],
    );
  }

  batchNorm(x: string, channels: number): string {
    const name = `bn${this.n++}`;
    const p = (suffix: string, lo: number, hi: number) => this.weights(`${name}.${suffix}`, [channels], lo, hi);
    return this.b.node("BatchNormalization", [x, p("scale", 0.5, 1.5), p("shift", -0.5, 0.5), p("mean", -0.2, 0.2), p("var", 0.5, 1.5)], {}, [name]);
  }

  /** GlobalAveragePool -> Flatten -> Gemm to `classes` logits, the graph output. */
  head(x: string, channels: number, classes = 3): Model {
    const pooled = this.b.node("GlobalAveragePool", [x]);
    const flat = this.b.node("Flatten", [pooled], { axis: attr.int(1) });
    this.b.node("Gemm", [flat, this.weights("fc.weight", [classes, channels]), this.weights("fc.bias", [classes])], { transB: attr.int(1) }, ["logits"]);
    this.b.output("logits", "float32", [1, classes]);
    return makeModel(this.b.build());
  }

  graph(): Graph {
    return this.b.build();
  }
}
