// `npm run compile -- upload` into wrangler's local R2 state in a temporary
// directory, then the real Worker bundle (Miniflare, the same state) serves
// the uploaded model by id, `latest` included, and agrees with the bundled
// model it was compiled from.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleWorker, framesBody, startBundledWorker } from "../worker/scripts/local-worker.ts";
import { compile } from "./pipeline.ts";

const state = mkdtempSync(join(tmpdir(), "edgevid-upload-"));
afterAll(() => rmSync(state, { recursive: true, force: true }));

const upload = (...args: string[]) =>
  spawnSync("npx", ["tsx", "compiler/cli.ts", "upload", ...args], { encoding: "utf8" });

describe("npm run compile -- upload", { timeout: 240_000 }, () => {
  const compiled = join(state, "compiled");
  let mf: Miniflare;

  beforeAll(async () => {
    await compile("models/default", { out: compiled, id: "upload-test", version: "3" });
    const dist = join(state, "dist");
    bundleWorker(dist);
    mf = startBundledWorker(dist, "index.js", { persistTo: state, quiet: true });
    await mf.ready;
  });
  afterAll(() => mf?.dispose());

  it("puts the model, its manifest and then the latest pointer under models/<id>/<version>/", () => {
    const r = upload(compiled, "--persist-to", state);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split("\n")).toEqual([
      "put edgevid-models/models/upload-test/3/model.onnx (local)",
      "put edgevid-models/models/upload-test/3/manifest.json (local)",
      "put edgevid-models/models/upload-test/latest (local)",
      "uploaded 3 objects",
    ]);
  });

  it("the bundled Worker on the same state lists it from R2 and answers with it as the bundled model does", async () => {
    const list = (await (await mf.dispatchFetch("http://worker/v1/models")).json()) as { models: { id: string; version: string; source: string; latest: boolean }[] };
    expect(list.models).toContainEqual(expect.objectContaining({ id: "upload-test", version: "3", source: "r2", latest: true }));
    const frames = readdirSync("examples/frames").map((f) => join("examples/frames", f));
    const ask = async (query: string) => {
      const { body, contentType } = await framesBody(frames);
      const res = await mf.dispatchFetch(`http://worker/v1/classify?topk=3${query}`, { method: "POST", body, headers: { "content-type": contentType } });
      expect(res.status).toBe(200);
      return (await res.json()) as { top: { label: string; score: number }[] };
    };
    const uploaded = await ask("&model=upload-test");
    const bundled = await ask("");
    // BatchNorm folded: the same function up to float rounding.
    expect(uploaded.top.map((t) => t.label)).toEqual(bundled.top.map((t) => t.label));
    uploaded.top.forEach((t, i) => expect(t.score).toBeCloseTo(bundled.top[i].score, 4));
  });

  it("refuses a model that no longer matches its manifest, before putting anything", () => {
    const tampered = join(state, "tampered");
    rmSync(tampered, { recursive: true, force: true });
    spawnSync("cp", ["-r", compiled, tampered]);
    writeFileSync(join(tampered, "model.onnx"), "not the model");
    const r = upload(tampered, "--persist-to", state);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/error: .*tampered\/model.onnx: sha256 [0-9a-f]{64} does not match/);
    expect(r.stdout).not.toContain("put ");
  });

  it("explains a missing directory and conflicting flags", () => {
    const missing = upload(join(state, "nope"));
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain("nope: no such file or directory");
    const both = upload(compiled, "--local", "--remote");
    expect(both.status).toBe(1);
    expect(both.stderr).toContain("--local and --remote: choose one");
  });
});
