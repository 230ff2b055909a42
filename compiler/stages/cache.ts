// The stage cache: each stage's output lives in <cache>/<stage>-<key>/, the
// key a sha256 of everything the output depends on (the input model's bytes,
// the stage's config, the data lists' contents, the code that runs it). An
// entry is complete once its stage.json exists: it is built in a scratch
// directory and renamed into place last.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { REPO_ROOT } from "../../training/python.ts";

/** sha256 (hex) of the parts in order, each length-prefixed so boundaries count. */
export function contentKey(parts: readonly (string | Uint8Array)[]): string {
  const hash = createHash("sha256");
  for (const part of parts) {
    const bytes = typeof part === "string" ? Buffer.from(part) : part;
    hash.update(`${bytes.length}:`).update(bytes);
  }
  return hash.digest("hex");
}

const codeHashes = new Map<string, string>();

/** A hash of the source files (.ts, .py, .json) under these repo paths: the stage's code version. */
export function codeVersion(paths: readonly string[]): string {
  const id = paths.join("\0");
  const known = codeHashes.get(id);
  if (known) return known;
  const files: string[] = [];
  const walk = (path: string): void => {
    if (statSync(path).isDirectory()) {
      for (const name of readdirSync(path).sort()) if (name !== "__pycache__" && name !== "node_modules") walk(join(path, name));
    } else if (/\.(ts|py|json)$/.test(path) && !/\.test\.ts$/.test(path)) files.push(path);
  };
  for (const p of paths) walk(join(REPO_ROOT, p));
  const version = contentKey(files.flatMap((f) => [relative(REPO_ROOT, f), readFileSync(f)]));
  codeHashes.set(id, version);
  return version;
}

export interface CacheEntry<T> {
  readonly dir: string;
  readonly record: T;
}

/** The finished entry, if there is one. */
export async function lookup<T>(cacheDir: string, stage: string, key: string): Promise<CacheEntry<T> | undefined> {
  const dir = join(cacheDir, `${stage}-${key.slice(0, 16)}`);
  const marker = join(dir, "stage.json");
  if (!existsSync(marker)) return undefined;
  return { dir, record: JSON.parse(await readFile(marker, "utf8")) as T };
}

/** Runs `build` in a scratch directory, then makes it the entry with `record` as its stage.json. */
export async function store<T>(cacheDir: string, stage: string, key: string, build: (dir: string) => Promise<T>): Promise<CacheEntry<T>> {
  const dir = join(cacheDir, `${stage}-${key.slice(0, 16)}`);
  const scratch = `${dir}.partial-${process.pid}`;
  await rm(scratch, { recursive: true, force: true });
  await mkdir(scratch, { recursive: true });
  const record = await build(scratch);
  await writeFile(join(scratch, "stage.json"), `${JSON.stringify(record, null, 2)}\n`);
  await rm(dir, { recursive: true, force: true });
  await rename(scratch, dir);
  return { dir, record };
}
