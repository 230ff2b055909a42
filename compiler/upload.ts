// npm run compile -- upload <dir> [--local|--remote] [--bucket edgevid-models] [--persist-to DIR]
// puts a compiled model where the Worker reads it (worker/src/models.ts):
//   models/<id>/<version>/<model file>, models/<id>/<version>/manifest.json,
// then models/<id>/latest (the version, as text) last, so `latest` never
// points at a version whose files are not all there. Through `wrangler r2
// object put`; local state by default (what `wrangler dev`/`npm start` read).
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readInputArtifact } from "./artifact.ts";
import { CompileError, parseFlags } from "./errors.ts";

export const UPLOAD_USAGE =
  "usage: npm run compile -- upload <model dir> [--local | --remote] [--bucket edgevid-models] [--persist-to DIR] [--no-latest]";

export interface UploadOptions {
  readonly remote?: boolean;
  readonly bucket?: string;
  /** Local state directory (wrangler's --persist-to); default .wrangler/state as wrangler dev uses. */
  readonly persistTo?: string;
  /** Move the model's `latest` pointer to this version (default true). */
  readonly latest?: boolean;
  readonly log?: (line: string) => void;
}

export interface Uploaded {
  readonly keys: readonly string[];
}

function put(bucket: string, key: string, file: string, contentType: string, options: UploadOptions): void {
  const where = options.remote ? ["--remote"] : ["--local", ...(options.persistTo ? ["--persist-to", options.persistTo] : [])];
  const r = spawnSync("npx", ["wrangler", "r2", "object", "put", `${bucket}/${key}`, "--file", file, "--content-type", contentType, ...where], {
    encoding: "utf8",
  });
  if (r.status !== 0) {
    const said = `${r.stderr}\n${r.stdout}`.split("\n").map((l) => l.trim()).filter((l) => l.length > 0 && !l.startsWith("⛅")).slice(-3).join(" / ");
    throw new CompileError(`wrangler r2 object put ${bucket}/${key} failed: ${said}`);
  }
}

/** Uploads the checked artifact in `dir` (model sha256 and size must match its manifest). */
export async function uploadModel(dir: string, options: UploadOptions = {}): Promise<Uploaded> {
  const { bucket = "edgevid-models", latest = true, log = () => {} } = options;
  const artifact = await readInputArtifact(dir);
  const { id, version } = artifact.manifest;
  if (version === "latest") throw new CompileError(`${artifact.manifestPath}: version "latest" is the pointer's name, not a version`);
  const base = `models/${id}/${version}`;
  const keys: string[] = [];
  const send = (key: string, file: string, type: string) => {
    put(bucket, key, file, type, options);
    keys.push(key);
    log(`put ${bucket}/${key}${options.remote ? "" : " (local)"}`);
  };
  send(`${base}/${artifact.manifest.model.file}`, artifact.modelPath, "application/octet-stream");
  send(`${base}/manifest.json`, artifact.manifestPath, "application/json");
  if (latest) {
    const pointer = join(mkdtempSync(join(tmpdir(), "edgevid-latest-")), "latest");
    writeFileSync(pointer, version);
    send(`models/${id}/latest`, pointer, "text/plain");
  }
  return { keys };
}

export async function uploadCommand(argv: string[], log: (line: string) => void): Promise<void> {
  const { values, positionals } = parseFlags(
    argv,
    {
      local: { type: "boolean" },
      remote: { type: "boolean" },
      bucket: { type: "string" },
      "persist-to": { type: "string" },
      "no-latest": { type: "boolean" },
    },
    UPLOAD_USAGE,
  );
  if (positionals.length !== 1) throw new CompileError(`upload takes one model directory\n${UPLOAD_USAGE}`);
  if (values.local && values.remote) throw new CompileError(`--local and --remote: choose one\n${UPLOAD_USAGE}`);
  if (values.remote && values["persist-to"]) throw new CompileError(`--persist-to is for local state, not --remote\n${UPLOAD_USAGE}`);
  const { keys } = await uploadModel(positionals[0], {
    remote: values.remote ?? false,
    bucket: values.bucket,
    persistTo: values["persist-to"],
    latest: !values["no-latest"],
    log,
  });
  log(`uploaded ${keys.length} objects`);
}
