// onnxruntime-web inside workerd against onnxruntime-node: the node script that
// built the fixture model also ran it natively on a fixed input
// (fixtures/make-tiny-model.ts); the Worker's runtime must give the same logits.
import { describe, expect, it } from "vitest";
import { parseManifest } from "../../contract/manifest.ts";
import { probabilities, runModel, topK } from "../src/classify.ts";
import { Session } from "../src/ort.ts";
import expected from "./fixtures/tiny-model.expected.json";
import manifestJson from "./fixtures/tiny-model.manifest.json";
import tinyModel from "./fixtures/tiny-model.onnx";
import { parityInput } from "./fixtures/parity-input.ts";

const manifest = parseManifest(manifestJson);

describe("ORT in workerd", () => {
  it("matches onnxruntime-node's logits to 1e-4 on the fixed input", async () => {
    const session = await Session.create(new Uint8Array(tinyModel));
    const { scores: logits, classMap } = await runModel(session, manifest, parityInput(expected.inputShape), expected.inputShape);
    expect(classMap).toBeUndefined();
    expect(logits).toHaveLength(expected.logits.length);
    expected.logits.forEach((v, i) => expect(Math.abs(logits[i] - v)).toBeLessThan(1e-4));
    // The reference is not degenerate: the labels are told apart.
    expect(Math.max(...expected.logits) - Math.min(...expected.logits)).toBeGreaterThan(1);
    await session.release();
  });

  it("queues concurrent runs on one session and answers each with its own input", async () => {
    const session = await Session.create(new Uint8Array(tinyModel));
    const a = parityInput(expected.inputShape);
    const b = a.map((v) => -v);
    const [ra, rb, ra2] = await Promise.all([a, b, a].map(async (x) => (await runModel(session, manifest, x, expected.inputShape)).scores));
    expect(Array.from(ra2)).toEqual(Array.from(ra));
    expect(Array.from(rb)).not.toEqual(Array.from(ra));
    await session.release();
  });

  it("top-k of the softmax of the model's logits", async () => {
    const session = await Session.create(new Uint8Array(tinyModel));
    const { scores } = await runModel(session, manifest, parityInput(expected.inputShape), expected.inputShape);
    const top = topK(probabilities(scores, manifest.output.kind), manifest.labels, 3);
    const best = expected.logits.indexOf(Math.max(...expected.logits));
    expect(top[0]).toMatchObject({ index: best, label: manifest.labels[best] });
    expect(top).toHaveLength(3);
    await session.release();
  });
});

describe("scores", () => {
  it("softmax of logits [0, ln 3] is [0.25, 0.75], stable for large logits", () => {
    expect(Array.from(probabilities(Float32Array.of(0, Math.log(3)), "logits")).map((p) => p.toFixed(6))).toEqual(["0.250000", "0.750000"]);
    expect(Array.from(probabilities(Float32Array.of(1000, 1000), "logits"))).toEqual([0.5, 0.5]);
  });

  it("probabilities pass through unchanged", () => {
    expect(Array.from(probabilities(Float32Array.of(0.25, 0.75), "probabilities"))).toEqual([0.25, 0.75]);
  });

  it("top-k sorts by score, ties by index", () => {
    const top = topK(Float64Array.of(0.1, 0.4, 0.1, 0.4), ["a", "b", "c", "d"], 3);
    expect(top).toEqual([
      { label: "b", index: 1, score: 0.4 },
      { label: "d", index: 3, score: 0.4 },
      { label: "a", index: 0, score: 0.1 },
    ]);
  });
});
