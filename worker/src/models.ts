// The model registry: the bundled default model plus models in R2 under
//   models/<id>/<version>/manifest.json and models/<id>/<version>/<manifest.model.file>
//   models/<id>/latest   (text: the version that `latest` means)
// A model's bytes are checked against its manifest's sha256 before ORT sees them.
// Loaded models (manifest + ORT session) are cached per id@version, a few at a
// time: ORT's wasm memory never shrinks and the isolate has 128 MB.
import bundledManifestJson from "../../models/default/manifest.json";
import bundledBytes from "../../models/default/model.onnx";
import { ManifestError, parseManifest, parseManifestJson, type Manifest } from "../../contract/manifest.ts";
import { serverError, userError, type ApiError } from "./errors.ts";
import { Session } from "./ort.ts";

export type ModelSource = "bundled" | "r2";

export interface LoadedModel {
  manifest: Manifest;
  source: ModelSource;
  session: Session;
}

const MAX_LOADED = 3;
const BUNDLED_SOURCE = "models/default/manifest.json (bundled)";

let bundled: Manifest | undefined;

/** The bundled manifest, validated on first use rather than at startup. */
function bundledManifest(): Manifest {
  if (!bundled) {
    try {
      bundled = parseManifest(bundledManifestJson, BUNDLED_SOURCE);
    } catch (e) {
      throw e instanceof ManifestError ? serverError("model_manifest_invalid", e.message) : e;
    }
  }
  return bundled;
}

const prefix = (id: string) => `models/${id}/`;
const latestKey = (id: string) => `models/${id}/latest`;
const manifestKey = (id: string, version: string) => `models/${id}/${version}/manifest.json`;
const VERSION = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/;

function hex(digest: ArrayBuffer): string {
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Refuses bytes that are not the file the manifest describes. */
async function verify(bytes: Uint8Array<ArrayBuffer>, manifest: Manifest, where: string): Promise<void> {
  const name = `${manifest.id}@${manifest.version}`;
  if (bytes.length !== manifest.model.bytes) {
    throw serverError("model_integrity", `model ${name}: ${where} has ${bytes.length} bytes, its manifest says ${manifest.model.bytes}`);
  }
  const sha = hex(await crypto.subtle.digest("SHA-256", bytes));
  if (sha !== manifest.model.sha256) {
    throw serverError("model_integrity", `model ${name}: sha256 of ${where} is ${sha}, its manifest says ${manifest.model.sha256}`);
  }
}

async function createSession(bytes: Uint8Array, manifest: Manifest): Promise<Session> {
  const session = await Session.create(bytes);
  if (!session.inputNames.includes(manifest.input.name) || !session.outputNames.includes(manifest.output.name)) {
    await session.release();
    throw serverError(
      "model_io_mismatch",
      `model ${manifest.id}@${manifest.version}: the graph has inputs [${session.inputNames}] and outputs [${session.outputNames}], ` +
        `the manifest names input "${manifest.input.name}" and output "${manifest.output.name}"`,
    );
  }
  return session;
}

/** Versions stored in R2 for one id (plus the bundled one), for "not found" answers. */
async function knownVersions(bucket: R2Bucket, id: string): Promise<string[]> {
  const listed = await bucket.list({ prefix: prefix(id), delimiter: "/" });
  const versions = listed.delimitedPrefixes.map((p) => p.slice(prefix(id).length, -1));
  if (id === bundledManifest().id) versions.unshift(bundledManifest().version);
  return [...new Set(versions)];
}

async function knownIds(bucket: R2Bucket): Promise<string[]> {
  const listed = await bucket.list({ prefix: "models/", delimiter: "/" });
  return [...new Set([bundledManifest().id, ...listed.delimitedPrefixes.map((p) => p.slice("models/".length, -1))])];
}

async function notFound(bucket: R2Bucket, id: string, version: string): Promise<ApiError> {
  const versions = await knownVersions(bucket, id);
  if (versions.length === 0) {
    const ids = await knownIds(bucket);
    return userError(404, "unknown_model", `there is no model "${id}"`, `model: one of ${ids.join(", ")}`);
  }
  const what = version === "latest" ? `model "${id}" has no "latest" pointer` : `model "${id}" has no version "${version}"`;
  return userError(404, "unknown_version", what, `version for "${id}": one of ${versions.join(", ")}`);
}

/** The concrete version `latest` stands for: the R2 pointer, else the bundled model's. */
async function resolveVersion(bucket: R2Bucket, id: string, requested: string): Promise<string> {
  if (requested !== "latest") return requested;
  const pointer = await bucket.get(latestKey(id));
  if (pointer) {
    const version = (await pointer.text()).trim();
    if (!VERSION.test(version)) {
      throw serverError("model_latest_invalid", `${latestKey(id)} holds ${JSON.stringify(version.slice(0, 40))}, not a version`);
    }
    return version;
  }
  if (id === bundledManifest().id) return bundledManifest().version;
  throw await notFound(bucket, id, requested);
}

async function loadBundled(): Promise<LoadedModel> {
  const manifest = bundledManifest();
  const bytes = new Uint8Array(bundledBytes);
  await verify(bytes, manifest, "the bundled models/default/model.onnx");
  return { manifest, source: "bundled", session: await createSession(bytes, manifest) };
}

async function loadFromR2(bucket: R2Bucket, id: string, version: string): Promise<LoadedModel> {
  const key = manifestKey(id, version);
  const object = await bucket.get(key);
  if (!object) throw await notFound(bucket, id, version);
  let manifest: Manifest;
  try {
    manifest = parseManifestJson(await object.text(), `R2 ${key}`);
  } catch (e) {
    throw e instanceof ManifestError ? serverError("model_manifest_invalid", e.message) : e;
  }
  if (manifest.id !== id || manifest.version !== version) {
    throw serverError("model_manifest_mismatch", `R2 ${key} describes ${manifest.id}@${manifest.version}`);
  }
  const modelKey = `models/${id}/${version}/${manifest.model.file}`;
  const file = await bucket.get(modelKey);
  if (!file) throw serverError("model_file_missing", `model ${id}@${version}: R2 has no ${modelKey}`);
  const bytes = new Uint8Array(await file.arrayBuffer());
  await verify(bytes, manifest, `R2 ${modelKey}`);
  return { manifest, source: "r2", session: await createSession(bytes, manifest) };
}

// id@version → the model being loaded or loaded; Map order is recency (oldest first).
const loaded = new Map<string, Promise<LoadedModel>>();

function remember(key: string, model: Promise<LoadedModel>): void {
  loaded.set(key, model);
  // A failed load is not cached: fixing the object in R2 must take effect.
  model.catch(() => {
    if (loaded.get(key) === model) loaded.delete(key);
  });
  while (loaded.size > MAX_LOADED) {
    const [oldest, evicted] = loaded.entries().next().value!;
    loaded.delete(oldest);
    // release() waits for runs already queued on the session.
    evicted.then((m) => m.session.release()).catch(() => undefined);
  }
}

/** The id that requests use for the bundled model, whatever its manifest calls it. */
export const DEFAULT_MODEL = "default";

/** The model for an id and a version (or "latest"), loading and caching it on first use. */
export async function getModel(bucket: R2Bucket, requestedId: string, requested: string): Promise<LoadedModel> {
  const id = requestedId === DEFAULT_MODEL ? bundledManifest().id : requestedId;
  const version = await resolveVersion(bucket, id, requested);
  const key = `${id}@${version}`;
  const cached = loaded.get(key);
  if (cached) {
    loaded.delete(key);
    loaded.set(key, cached);
    return cached;
  }
  const isBundled = id === bundledManifest().id && version === bundledManifest().version;
  const model = isBundled ? loadBundled() : loadFromR2(bucket, id, version);
  remember(key, model);
  return model;
}

export interface ModelSummary {
  id: string;
  version: string;
  source: ModelSource;
  latest: boolean;
  sha256: string;
  labelCount: number;
  labels: string[];
  input: Manifest["input"];
  output: Manifest["output"];
  sampling: Manifest["sampling"];
}

function summary(m: Manifest, source: ModelSource, latest: boolean): ModelSummary {
  return {
    id: m.id,
    version: m.version,
    source,
    latest,
    sha256: m.model.sha256,
    labelCount: m.labels.length,
    labels: m.labels,
    input: m.input,
    output: m.output,
    sampling: m.sampling,
  };
}

/** Every model: the bundled one and each valid manifest in R2; invalid ones are reported, not hidden. */
export async function listModels(bucket: R2Bucket): Promise<{ models: ModelSummary[]; invalid: { key: string; problem: string }[] }> {
  const manifestKeys: string[] = [];
  const latestKeys: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix: "models/", cursor });
    for (const o of page.objects) {
      if (/^models\/[^/]+\/[^/]+\/manifest\.json$/.test(o.key)) manifestKeys.push(o.key);
      else if (/^models\/[^/]+\/latest$/.test(o.key)) latestKeys.push(o.key);
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);

  const latest = new Map<string, string>();
  await Promise.all(
    latestKeys.map(async (key) => {
      const text = await (await bucket.get(key))?.text();
      if (text !== undefined) latest.set(key.split("/")[1], text.trim());
    }),
  );
  const invalid: { key: string; problem: string }[] = [];
  const stored = await Promise.all(
    manifestKeys.map(async (key) => {
      try {
        const m = parseManifestJson((await (await bucket.get(key))?.text()) ?? "", `R2 ${key}`);
        if (key !== manifestKey(m.id, m.version)) throw new Error(`describes ${m.id}@${m.version}`);
        return m;
      } catch (e) {
        invalid.push({ key, problem: (e as Error).message });
        return null;
      }
    }),
  );
  const b = bundledManifest();
  const models = [summary(b, "bundled", (latest.get(b.id) ?? b.version) === b.version)];
  for (const m of stored) {
    if (m && !(m.id === b.id && m.version === b.version)) models.push(summary(m, "r2", latest.get(m.id) === m.version));
  }
  return { models, invalid };
}
