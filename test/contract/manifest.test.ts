import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ManifestError, manifestJsonSchema, parseManifest, parseManifestJson } from "../../contract/manifest.ts";

const example = JSON.parse(readFileSync(new URL("../../contract/manifest.example.json", import.meta.url), "utf8"));
const clone = () => structuredClone(example);

function problemsOf(value: unknown): string[] {
  try {
    parseManifest(value, "m.json");
  } catch (e) {
    expect(e).toBeInstanceOf(ManifestError);
    return (e as ManifestError).problems.map((p) => p.path);
  }
  throw new Error("expected the manifest to be rejected");
}

describe("manifest contract", () => {
  it("accepts the example and fills defaults", () => {
    const m = parseManifest(clone());
    expect(m.labels).toHaveLength(8);
    expect(m.input.layout).toBe("NCTHW");
  });

  it("names the field that is wrong", () => {
    const m = clone();
    m.input.mean = [0.45, 0.45];
    expect(problemsOf(m)).toEqual(["input.mean"]);

    const n = clone();
    n.model.sha256 = "XYZ";
    expect(problemsOf(n)).toEqual(["model.sha256"]);

    const s = clone();
    s.sampling.clipSampler = { kind: "dense" };
    expect(problemsOf(s)).toEqual(["sampling.clipSampler.kind"]);
  });

  it("rejects unknown fields, missing fields and cross-field contradictions", () => {
    const extra = clone();
    extra.input.colour = "red";
    expect(problemsOf(extra)).toEqual(["input"]);

    const missing = clone();
    delete missing.labels;
    expect(problemsOf(missing)).toEqual(["labels"]);

    const frames = clone();
    frames.sampling.frames = 16;
    expect(problemsOf(frames)).toEqual(["sampling.frames"]);

    const crop = clone();
    crop.input.cropSize = 100;
    expect(problemsOf(crop)).toEqual(["input.cropSize"]);

    const dup = clone();
    dup.labels[1] = dup.labels[0];
    expect(problemsOf(dup)).toEqual(["labels"]);
  });

  it("reports bad JSON with the source name", () => {
    expect(() => parseManifestJson("{ nope", "runs/x/manifest.json")).toThrow(/runs\/x\/manifest.json: invalid manifest: \(root\): not valid JSON/);
  });

  it("the committed JSON Schema is generated from the zod schema", () => {
    const committed = JSON.parse(readFileSync(new URL("../../contract/manifest.schema.json", import.meta.url), "utf8"));
    expect(committed).toEqual(manifestJsonSchema());
  });
});
