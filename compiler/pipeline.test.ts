import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseManifestJson } from "../contract/manifest.ts";
import { sha256Hex } from "./artifact.ts";
import { loadModel } from "./ir/load.ts";
import { COMPILE_PASSES, compile } from "./pipeline.ts";
import { outputDifference } from "./testing/parity.ts";
import { writeRunDir } from "./testing/run-dir.ts";
import { videoModel } from "./testing/video-model.ts";

const tempDir = () => mkdtemp(join(tmpdir(), "edgevid-compile-"));

describe("compile", () => {
  it("writes model.onnx and a manifest that records its parent and passes", async () => {
    const dir = await tempDir();
    const teacher = videoModel({ seed: 8 });
    const parent = await writeRunDir(dir, teacher);
    const lines: string[] = [];
    const now = new Date("2026-02-03T04:05:06.000Z");
    const result = await compile(dir, { log: (l) => lines.push(l), now, version: "3-c1" });

    expect(result.modelPath).toBe(join(dir, "compiled", "model.onnx"));
    const bytes = await readFile(result.modelPath);
    const manifest = parseManifestJson(await readFile(result.manifestPath, "utf8"), result.manifestPath);
    expect(manifest).toEqual({
      ...parent,
      version: "3-c1",
      model: { file: "model.onnx", sha256: sha256Hex(bytes), bytes: bytes.length, opset: 17 },
      provenance: {
        ...parent.provenance,
        parent: { id: "test-video", version: "3", sha256: parent.model.sha256 },
        passes: [
          { name: "train", params: { epochs: 1 } },
          { name: "fold-constants", summary: "converted 1 Constant node to initializers, removed 2 Identity nodes" },
          {
            name: "canonicalize-activations",
            summary: "0 Swish Muls and 0 squeeze-excite gates reordered, 0 ReduceMeans made GlobalAveragePool; 0 squeeze-excite blocks",
          },
          { name: "fold-batchnorm", summary: "folded 2 BatchNormalization nodes into Conv" },
          { name: "eliminate-dead-nodes", summary: "removed 1 dead node and 9 unused initializers" },
        ],
        createdBy: "edgevid-compiler",
        createdAt: "2026-02-03T04:05:06.000Z",
      },
    });

    const compiled = await loadModel(result.modelPath);
    expect(compiled.graph.nodes.map((n) => n.op)).toEqual([
      "Conv", "Relu", "Conv", "Sigmoid", "Mul", "GlobalAveragePool", "Flatten", "Gemm", "Mul",
    ]);
    expect(await outputDifference(teacher, compiled)).toBeLessThan(1e-4);
    expect(result.parity).toBeLessThan(1e-4);
    // One progress line per pass, with node counts.
    expect(lines.filter((l) => /^ {2}\S+ +\d+ -> \d+ nodes {2}[\d.]+ ms {2}/.test(l))).toHaveLength(COMPILE_PASSES.length);
    expect(lines.some((l) => l.startsWith("parity: max |logit difference| "))).toBe(true);
  });

  it("--explain adds the class-map output and names it in the manifest; a second --explain is refused", async () => {
    const dir = await tempDir();
    await writeRunDir(dir, videoModel({ seed: 8 }));
    const result = await compile(dir, { explain: true });
    const manifest = parseManifestJson(await readFile(result.manifestPath, "utf8"), result.manifestPath);
    expect(manifest.output).toEqual({ name: "logits", kind: "logits", classMap: "class_map" });
    expect(manifest.provenance.passes.at(-1)?.name).toBe("expose-class-map");
    const compiled = await loadModel(result.modelPath);
    expect(compiled.graph.outputs.map((o) => o.name)).toEqual(["logits", "class_map"]);
    expect(result.parity).toBeLessThan(1e-4);
    // Compiling the explained model again keeps its map; asking for another is an error.
    const again = await compile(join(dir, "compiled"), { out: join(dir, "again") });
    expect(parseManifestJson(await readFile(again.manifestPath, "utf8"), again.manifestPath).output.classMap).toBe("class_map");
    await expect(compile(join(dir, "compiled"), { out: join(dir, "twice"), explain: true })).rejects.toThrow(/already has a class map \(%class_map\)/);
  });

  it("takes a bare model.onnx with its manifest beside it, and honours --out and --id", async () => {
    const dir = await tempDir();
    await writeRunDir(dir, videoModel());
    const out = join(dir, "elsewhere");
    const result = await compile(join(dir, "teacher.onnx"), { out, id: "renamed" });
    expect(result.manifestPath).toBe(join(out, "manifest.json"));
    const manifest = parseManifestJson(await readFile(result.manifestPath, "utf8"));
    expect([manifest.id, manifest.version, manifest.provenance.parent?.id]).toEqual(["renamed", "3", "test-video"]);
  });

  it("refuses a model whose inputs or outputs differ from the manifest", async () => {
    const dir = await tempDir();
    await writeRunDir(dir, videoModel({ frames: 2 }));
    await expect(compile(dir)).rejects.toThrow(
      `${join(dir, "teacher.onnx")}: %video is float32[1,3,2,16,16] but the manifest needs float32[N,3,4,16,16]`,
    );
    const renamed = await tempDir();
    await writeRunDir(renamed, videoModel({ outputName: "scores" }));
    await expect(compile(renamed)).rejects.toThrow(
      `${join(renamed, "teacher.onnx")}: the manifest's output is %logits but the model's outputs are [%scores]`,
    );
  });

  it("refuses an invalid --version before writing anything", async () => {
    const dir = await tempDir();
    await writeRunDir(dir, videoModel());
    await expect(compile(dir, { version: "not valid!" })).rejects.toThrow(
      `${join(dir, "compiled", "manifest.json")}: invalid manifest: version: letters, digits`,
    );
    await expect(readFile(join(dir, "compiled", "model.onnx"))).rejects.toThrow("ENOENT");
  });
});
