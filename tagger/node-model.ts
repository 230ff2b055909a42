// A model directory (model.onnx + manifest.json, as `npm run compile` writes
// it) loaded for onnxruntime-node: the same manifest checks as the Worker's
// registry (worker/src/models.ts), a session with an explicit thread count, and
// the Worker's Session.run signature so the Worker's classify code drives it.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { parseManifestJson, type Manifest } from "../contract/manifest.ts";
import type { OutputTensor } from "../worker/src/ort.ts";

export class TagError extends Error {}

export interface NodeModel {
  manifest: Manifest;
  session: NodeSession;
}

export class NodeSession {
  private constructor(private readonly inner: ort.InferenceSession) {}

  /** `threads`: onnxruntime's intra-op threads (its default is every core, which oversubscribes beside other workers). */
  static async create(bytes: Uint8Array, threads: number): Promise<NodeSession> {
    const inner = await ort.InferenceSession.create(bytes, {
      executionProviders: ["cpu"],
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: "sequential",
    });
    return new NodeSession(inner);
  }

  get inputNames(): readonly string[] {
    return this.inner.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.inner.outputNames;
  }

  async run(input: string, data: Float32Array, dims: readonly number[], outputs: readonly string[]): Promise<OutputTensor[]> {
    const fetched = await this.inner.run({ [input]: new ort.Tensor("float32", data, dims) }, [...outputs]);
    return outputs.map((name) => {
      const tensor = fetched[name];
      if (tensor?.type !== "float32") throw new Error(`model output "${name}" is missing or not float32`);
      return { data: tensor.data as Float32Array, dims: tensor.dims };
    });
  }

  release(): Promise<void> {
    return this.inner.release();
  }
}

/** Reads and checks the manifest only (the main thread plans with it). */
export async function readManifest(dir: string): Promise<Manifest> {
  const path = join(dir, "manifest.json");
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new TagError(`--model ${dir}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  try {
    return parseManifestJson(text, path);
  } catch (error) {
    throw new TagError(`--model ${dir}: ${(error as Error).message}`);
  }
}

export async function loadModel(dir: string, threads: number): Promise<NodeModel> {
  const manifest = await readManifest(dir);
  const path = join(dir, manifest.model.file);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (error) {
    throw new TagError(`--model ${dir}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  if (bytes.length !== manifest.model.bytes || sha256 !== manifest.model.sha256) {
    throw new TagError(`--model ${dir}: ${path} is not the file its manifest describes (${bytes.length} bytes, sha256 ${sha256}; manifest: ${manifest.model.bytes} bytes, ${manifest.model.sha256})`);
  }
  const session = await NodeSession.create(bytes, threads);
  if (!session.inputNames.includes(manifest.input.name) || !session.outputNames.includes(manifest.output.name)) {
    await session.release();
    throw new TagError(
      `--model ${dir}: the graph has inputs [${session.inputNames}] and outputs [${session.outputNames}], the manifest names input "${manifest.input.name}" and output "${manifest.output.name}"`,
    );
  }
  return { manifest, session };
}
