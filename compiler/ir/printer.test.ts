import { describe, expect, it } from "vitest";
import { videoModel } from "../testing/video-model.ts";
import { GraphBuilder, attr, makeTensor } from "./build.ts";
import { printGraph } from "./printer.ts";
import { inferShapes } from "./shapes.ts";

describe("printGraph", () => {
  it("prints one line per node with attributes and, once inferred, types", () => {
    const b = new GraphBuilder("tiny");
    const video = b.input("video", "float32", [1, 3, 8, 64, 64]);
    const w = b.initializer("w0", "float32", [24, 3, 3, 3, 3], new Float32Array(24 * 81));
    const bias = b.initializer("b0", "float32", [24], new Float32Array(24));
    const limit = b.initializer("max", "float32", [2], Float32Array.of(0.1, -2.5));
    const conv = b.node("Conv", [video, w, bias], {
      kernel_shape: attr.ints([3, 3, 3]),
      pads: attr.ints([1, 1, 1, 1, 1, 1]),
      strides: attr.ints([1, 2, 2]),
      group: attr.int(1),
    }, ["23"]);
    b.node("Clip", [conv, "", limit], { note: attr.string("upper only") }, ["clipped"]);
    b.output("clipped", "float32");
    const graph = b.build();

    expect(printGraph(graph).split("\n")).toEqual([
      "graph tiny(%video: float32[1,3,8,64,64]) -> (%clipped: float32[...]) {",
      "  %w0 = float32[24,3,3,3,3]",
      "  %b0 = float32[24]",
      "  %max = float32[2] {0.1, -2.5}",
      "  %23 = Conv(%video, %w0, %b0) {kernel_shape=[3,3,3], pads=[1,1,1,1,1,1], strides=[1,2,2], group=1}  # Conv_0",
      // The graph output declares its type, so its line shows it.
      '  %clipped = Clip(%23, _, %max) {note="upper only"} : float32[...]  # Clip_1',
      "  return %clipped",
      "}",
    ]);
    const typed = { ...graph, nodes: graph.nodes.slice(0, 1), outputs: [{ name: "23" }] };
    expect(printGraph(inferShapes(typed)).split("\n")[4]).toBe(
      "  %23 = Conv(%video, %w0, %b0) {kernel_shape=[3,3,3], pads=[1,1,1,1,1,1], strides=[1,2,2], group=1} : float32[1,24,8,32,32]  # Conv_0",
    );
  });

  it("prints symbolic dims, odd names, float attributes exactly, and subgraphs indented", () => {
    const b = new GraphBuilder("g");
    b.input("x y", "float32", ["batch", null]);
    const inner = new GraphBuilder("then");
    inner.node("Identity", ["x y"], {}, ["t"]);
    inner.output("t", "float32");
    b.node("If", ["c"], { then_branch: { type: "graph", value: inner.build() }, alpha: attr.float(0.1) }, ["z"]);
    b.initializer("c", "bool", [], Uint8Array.of(1));
    b.node("Constant", [], { value: attr.tensor(makeTensor("", "int64", [2], BigInt64Array.of(-1n, 3n))) }, ["k"]);
    b.output("z", "float32");
    expect(printGraph(b.build()).split("\n")).toEqual([
      'graph g(%"x y": float32[batch,?]) -> (%z: float32[...]) {',
      "  %c = bool[] {1}",
      "  %z = If(%c) {then_branch=graph then, alpha=0.1} : float32[...]  # If_0",
      '    graph then() -> (%t: float32[...]) {',
      '      %t = Identity(%"x y") : float32[...]  # Identity_0',
      "      return %t",
      "    }",
      "  %k = Constant() {value=int64[2] {-1, 3}}  # Constant_1",
      "  return %z",
      "}",
    ]);
  });

  it("prints the test video model with every type known", () => {
    const text = printGraph(inferShapes(videoModel().graph));
    const nodeLines = text.split("\n").filter((l) => / = [A-Z]\w*\(/.test(l));
    expect(nodeLines).toHaveLength(15);
    for (const line of nodeLines) expect(line).toMatch(/ : (float32|int64)\[[\d,]*\]  # /);
  });
});
