// Artifacts on disk: a model.onnx and the manifest.json that describes it.
// Reading checks the manifest against the bytes; writing validates the new
// manifest with the contract before anything is written.
import { createHash } from "node:crypto";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { parseManifest, parseManifestJson, type Manifest, type PassRecord } from "../contract/manifest.ts";
import { CompileError } from "./errors.ts";

export interface InputArtifact {
  readonly dir: string;
  readonly manifestPath: string;
  readonly modelPath: string;
  readonly manifest: Manifest;
  readonly modelBytes: Uint8Array;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

async function readOrExplain(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CompileError(`${path}: ${code === "ENOENT" ? `no such file (${what})` : (e as Error).message}`);
  }
}

/**
 * Reads a training run dir (manifest.json naming the ONNX file) or a bare
 * model.onnx with a manifest.json beside it, and checks the manifest's sha256
 * and size against the model file.
 */
export async function readInputArtifact(path: string): Promise<InputArtifact> {
  let isDir: boolean;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch {
    throw new CompileError(`${path}: no such file or directory`);
  }
  const dir = isDir ? path : dirname(path);
  const manifestPath = join(dir, "manifest.json");
  const manifestText = (await readOrExplain(manifestPath, "every model needs a manifest.json beside it")).toString("utf8");
  const manifest = parseManifestJson(manifestText, manifestPath);
  if (!isDir && basename(path) !== manifest.model.file) {
    throw new CompileError(`${manifestPath}: describes ${manifest.model.file}, not ${basename(path)}`);
  }
  const modelPath = join(dir, manifest.model.file);
  const modelBytes = await readOrExplain(modelPath, `named by ${manifestPath}`);
  const sha256 = sha256Hex(modelBytes);
  if (sha256 !== manifest.model.sha256) {
    throw new CompileError(
      `${modelPath}: sha256 ${sha256} does not match ${manifestPath} (model.sha256 ${manifest.model.sha256}); ` +
        "the model changed after its manifest was written",
    );
  }
  if (modelBytes.length !== manifest.model.bytes) {
    throw new CompileError(`${modelPath}: ${modelBytes.length} bytes, but ${manifestPath} says ${manifest.model.bytes}`);
  }
  return { dir, manifestPath, modelPath, manifest, modelBytes };
}

export interface CompiledManifestInput {
  readonly parent: Manifest;
  readonly modelBytes: Uint8Array;
  readonly opset: number;
  readonly passes: readonly PassRecord[];
  readonly id?: string;
  readonly version?: string;
  readonly createdAt: Date;
  /** Measurements of this model (e.g. the quantization benchmark's), over the parent's of the same name. */
  readonly metrics?: Readonly<Record<string, number>>;
  /** Names the manifest in validation errors. */
  readonly source: string;
}

/** The manifest of a compiled model: the parent's, with new file facts and provenance. Validated. */
export function compiledManifest(m: CompiledManifestInput): Manifest {
  const { parent } = m;
  return parseManifest(
    {
      ...parent,
      id: m.id ?? parent.id,
      version: m.version ?? parent.version,
      model: { file: "model.onnx", sha256: sha256Hex(m.modelBytes), bytes: m.modelBytes.length, opset: m.opset },
      provenance: {
        ...parent.provenance,
        parent: { id: parent.id, version: parent.version, sha256: parent.model.sha256 },
        passes: [...parent.provenance.passes, ...m.passes],
        createdBy: "edgevid-compiler",
        createdAt: m.createdAt.toISOString(),
      },
      metrics: { ...parent.metrics, ...m.metrics },
    },
    m.source,
  );
}

/** Writes DIR/model.onnx and DIR/manifest.json. */
export async function writeArtifact(
  dir: string,
  modelBytes: Uint8Array,
  manifest: Manifest,
): Promise<{ modelPath: string; manifestPath: string }> {
  const modelPath = join(dir, manifest.model.file);
  const manifestPath = join(dir, "manifest.json");
  await mkdir(dir, { recursive: true });
  await writeFile(modelPath, modelBytes);
  await writeFile(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  return { modelPath, manifestPath };
}
