import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decodeModel } from "../ir/index.ts";
import { encodeNpy } from "../quantize/npy.ts";
import { seededRandom, uniform } from "../random.ts";
import { peerQuantize } from "./peer.ts";

const MODEL = "models/default/model.onnx";

describe("peerQuantize", () => {
  const dir = mkdtempSync(join(tmpdir(), "peer-"));
  const clips = join(dir, "clips");
  const random = seededRandom(3);
  it("quantizes the bundled model to QDQ with per-channel int8 weights", () => {
    mkdirSync(clips);
    writeFileSync(join(clips, "a.npy"), encodeNpy([3, 8, 64, 64], uniform(random, 3 * 8 * 64 * 64)));
    writeFileSync(join(clips, "b.npy"), encodeNpy([2, 3, 8, 64, 64], uniform(random, 2 * 3 * 8 * 64 * 64)));
    const r = peerQuantize(MODEL, clips, join(dir, "peer.onnx"));
    expect(r.clips).toBe(3);
    const model = decodeModel(readFileSync(r.out), r.out);
    const ops = new Set(model.graph.nodes.map((n) => n.op));
    expect(ops).toContain("QuantizeLinear");
    expect(ops).toContain("DequantizeLinear");
    // Per-channel: a Conv weight's DequantizeLinear has one scale per output channel.
    const scales = model.graph.initializers.filter((t) => t.name.endsWith("_scale") && t.dims.length === 1 && t.dims[0] > 1);
    expect(scales.length).toBeGreaterThan(0);
    expect(model.graph.initializers.some((t) => t.dtype === "int8")).toBe(true);
    expect(r.bytes).toBe(readFileSync(r.out).length);
  }, 60_000);

  it("names the clip file of the wrong shape", () => {
    const bad = join(dir, "bad");
    mkdirSync(bad);
    writeFileSync(join(bad, "flat.npy"), encodeNpy([10], new Float32Array(10)));
    expect(() => peerQuantize(MODEL, bad, join(dir, "x.onnx"))).toThrow(/failed: .*flat.npy: shape \[10\], expected a clip of rank 4 or a batch of rank 5/);
  }, 30_000);

  it("says an empty calibration directory has no clips", () => {
    const empty = join(dir, "empty");
    mkdirSync(empty);
    expect(() => peerQuantize(MODEL, empty, join(dir, "y.onnx"))).toThrow(/empty: no \.npy clips/);
  }, 30_000);
});
