// Models stored in R2 next to the bundled one: served by id/version/latest,
// listed, and refused (5xx, with the reason) when the bytes do not match the manifest.
import { SELF } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { BASE, classify, expectClassified, expectError, file, form, gradient, jpeg } from "./helpers.ts";
import tinyManifest from "./fixtures/tiny-model.manifest.json";
import tinyModel from "./fixtures/tiny-model.onnx";

let frames: FormData;

/** Stores the tiny fixture model as models/<id>/<version>/, with optional manifest edits and bytes. */
async function putModel(id: string, version: string, edit: (m: typeof tinyManifest) => void = () => {}, bytes: ArrayBuffer = tinyModel) {
  const manifest = structuredClone(tinyManifest);
  manifest.id = id;
  manifest.version = version;
  edit(manifest);
  await env.MODELS.put(`models/${id}/${version}/manifest.json`, JSON.stringify(manifest));
  await env.MODELS.put(`models/${id}/${version}/model.onnx`, bytes);
}

beforeAll(async () => {
  frames = form([file(await jpeg(64, 48, gradient(0)), "a.jpg"), file(await jpeg(64, 48, gradient(1)), "b.jpg")]);
});

describe("R2 models", () => {
  it("serves an explicit version and resolves latest through the pointer", async () => {
    await putModel("tiny", "1");
    await putModel("tiny", "2");
    await env.MODELS.put("models/tiny/latest", "2\n");

    const v1 = await expectClassified(await classify(frames, "?model=tiny&version=1&topk=8"));
    expect(v1.model).toEqual({ id: "tiny", version: "1", sha256: tinyManifest.model.sha256 });
    expect(v1.top.map((p) => p.label).sort()).toEqual([...tinyManifest.labels].sort());

    const latest = await expectClassified(await classify(frames, "?model=tiny"));
    expect(latest.model.version).toBe("2");
    // Same bytes under both versions: the same answer.
    expect(latest.top[0]).toEqual(v1.top[0]);
  });

  it("lists stored models beside the bundled one, and reports invalid manifests", async () => {
    await putModel("listed", "a");
    await putModel("listed", "b");
    await env.MODELS.put("models/listed/latest", "b");
    await env.MODELS.put("models/broken/1/manifest.json", '{"schemaVersion": 2}');
    const res = await SELF.fetch(`${BASE}/v1/models`);
    const body = (await res.json()) as {
      models: { id: string; version: string; source: string; latest: boolean; labelCount: number; input: unknown; sampling: unknown }[];
      invalid: { key: string; problem: string }[];
    };
    const listed = body.models.filter((m) => m.id === "listed").sort((x, y) => x.version.localeCompare(y.version));
    expect(listed.map((m) => [m.version, m.source, m.latest])).toEqual([
      ["a", "r2", false],
      ["b", "r2", true],
    ]);
    expect(listed[0].labelCount).toBe(tinyManifest.labels.length);
    expect(listed[0].input).toEqual(tinyManifest.input);
    expect(listed[0].sampling).toEqual(tinyManifest.sampling);
    expect(body.models.some((m) => m.source === "bundled")).toBe(true);
    expect(body.invalid).toEqual([{ key: "models/broken/1/manifest.json", problem: expect.stringMatching(/schemaVersion/) }]);
  });

  it("refuses a model whose bytes do not match the manifest's sha256, and keeps serving", async () => {
    const tampered = new Uint8Array(tinyModel.slice(0));
    tampered[tampered.length - 5] ^= 0xff; // same length, different sha256
    await putModel("tampered", "1", () => {}, tampered.buffer);
    const body = await expectError(await classify(frames, "?model=tampered&version=1"), 500, "model_integrity");
    expect(body.error.message).toMatch(/sha256/);
    expect(body.error.message).toContain(tinyManifest.model.sha256);
    // The failure is not cached: once the right bytes are stored, the model serves.
    await putModel("tampered", "1");
    await expectClassified(await classify(frames, "?model=tampered&version=1"));
  });

  it("refuses a manifest whose size disagrees with the file, or whose input name is not in the graph", async () => {
    await putModel("wrongsize", "1", (m) => (m.model.bytes += 1));
    expect((await expectError(await classify(frames, "?model=wrongsize&version=1"), 500, "model_integrity")).error.message).toMatch(/bytes/);
    await putModel("wrongio", "1", (m) => (m.input.name = "frames"));
    await expectError(await classify(frames, "?model=wrongio&version=1"), 500, "model_io_mismatch");
  });

  it("a model without a latest pointer must be asked for by version", async () => {
    await putModel("nolatest", "3");
    const body = await expectError(await classify(frames, "?model=nolatest"), 404, "unknown_version");
    expect(body.error.accepted).toContain("3");
    await expectClassified(await classify(frames, "?model=nolatest&version=3"));
  });

  it("serves more models than it keeps loaded, concurrently and again after eviction", async () => {
    const versions = ["e1", "e2", "e3", "e4", "e5"];
    for (const v of versions) await putModel("many", v);
    // Five models at once: loading the later ones evicts the earlier ones while
    // their requests may still be queued on their sessions.
    const answers = await Promise.all(versions.map((v) => classify(frames, `?model=many&version=${v}`).then(expectClassified)));
    expect(answers.map((a) => a.model.version)).toEqual(versions);
    const again = await expectClassified(await classify(frames, "?model=many&version=e1"));
    expect(again.top).toEqual(answers[0].top);
  });

  it("a missing version of a known model lists the versions there are", async () => {
    await putModel("versions", "1.0");
    const body = await expectError(await classify(frames, "?model=versions&version=2.0"), 404, "unknown_version");
    expect(body.error.accepted).toContain("1.0");
  });
});
