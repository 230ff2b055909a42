// The client side of resumable uploads (worker/src/uploads/routes.ts), in
// Node: starts or resumes an upload, sends the parts the server does not have
// (a few at a time, each retried with backoff), completes it. What to resume
// is remembered per file and Worker in a small record under the cache
// directory; the server's list of stored parts is the truth.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { open, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { basename, join, resolve } from "node:path";
import { PartStoredSchema, StoredVideoSchema, UploadCreatedSchema, UploadStatusSchema, type StoredVideo } from "../src/uploads/schemas.ts";

export class UploadError extends Error {}

export interface UploadOptions {
  url: string;
  key?: string;
  /** The video's name in the bucket (default: the file's name, made safe). */
  name?: string;
  partSize?: number;
  /** Replace a video already stored under the name (the server refuses with 409 otherwise). */
  overwrite?: boolean;
  /** Parts in flight at once. */
  concurrency?: number;
  /** Tries per request. */
  attempts?: number;
  baseDelayMs?: number;
  cacheDir?: string;
  onProgress?: (event: { bytesDone: number; bytes: number; partsDone: number; parts: number }) => void;
  onMessage?: (text: string) => void;
}

export interface UploadResult extends StoredVideo {
  uploadId: string;
  /** Parts found on the server when this run started (resumed), and sent by this run. */
  resumedParts: number;
  sentParts: number;
}

/** A name the server accepts: A-Z a-z 0-9 . _ -, starting with a letter or digit. */
export function safeName(file: string): string {
  const name = basename(file).replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^[^A-Za-z0-9]+/, "").slice(0, 200);
  return name || "video.mp4";
}

function defaultCacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "edgevid", "uploads");
}

interface ApiError {
  error?: { code?: string; message?: string };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function uploadFile(file: string, options: UploadOptions): Promise<UploadResult> {
  const { url, key, partSize, overwrite = false, concurrency = 3, attempts = 5, baseDelayMs = 1000, onProgress = () => {}, onMessage = () => {} } = options;
  const path = resolve(file);
  const info = await stat(path).catch((e: Error) => {
    throw new UploadError(`${file}: ${e.message}`);
  });
  if (!info.isFile()) throw new UploadError(`${file}: not a file`);
  if (info.size === 0) throw new UploadError(`${file}: the file is empty`);
  const name = options.name ?? safeName(path);
  const base = url.replace(/\/+$/, "");
  const headers: Record<string, string> = key ? { Authorization: `Bearer ${key}` } : {};

  // The resume record: one per (Worker, key, file as it is now).
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const recordFile = join(cacheDir, `${createHash("sha256").update(JSON.stringify([base, key ?? "", path, name, info.size, info.mtimeMs])).digest("hex").slice(0, 32)}.json`);
  const remembered = (() => {
    try {
      return (JSON.parse(readFileSync(recordFile, "utf8")) as { uploadId: string }).uploadId;
    } catch {
      return undefined;
    }
  })();

  /** One request, retried on network errors, 5xx, 408 and 429 (after Retry-After). */
  async function call(method: string, route: string, body?: Uint8Array<ArrayBuffer> | string, extra: Record<string, string> = {}): Promise<Response> {
    for (let n = 1; ; n++) {
      let why: string;
      let wait = baseDelayMs * 2 ** (n - 1);
      try {
        const res = await fetch(`${base}${route}`, { method, body, headers: { ...headers, ...extra } });
        if (res.ok || (res.status < 500 && res.status !== 408 && res.status !== 429)) return res;
        const retryAfter = Number(res.headers.get("retry-after"));
        if (Number.isFinite(retryAfter) && retryAfter > 0) wait = retryAfter * 1000;
        // The key's rate limit is flow control, not a failure: wait as told, without using up a try.
        if (res.status === 429) {
          await res.body?.cancel();
          n--;
          await sleep(wait);
          continue;
        }
        why = `HTTP ${res.status} ${await res.text().catch(() => "")}`.trim();
      } catch (error) {
        why = ((error as Error).cause as Error | undefined)?.message ?? (error as Error).message;
      }
      if (n >= attempts) throw new UploadError(`${method} ${route} failed ${attempts} times; last: ${why}`);
      onMessage(`${method} ${route}: ${why}; retrying in ${(wait / 1000).toFixed(1)} s`);
      await sleep(wait);
    }
  }

  async function fail(res: Response, what: string): Promise<never> {
    const body = (await res.json().catch(() => ({}))) as ApiError;
    throw new UploadError(`${what}: HTTP ${res.status} ${body.error?.code ?? ""}: ${body.error?.message ?? res.statusText}`.replace(/ +/g, " "));
  }

  // Resume what the server still has, else start afresh.
  let status: ReturnType<typeof UploadStatusSchema.parse> | undefined;
  if (remembered) {
    const res = await call("GET", `/v1/uploads/${remembered}`);
    if (res.ok) status = UploadStatusSchema.parse(await res.json());
    else if (res.status === 404 || res.status === 403) onMessage(`upload ${remembered} is gone on the server; starting again`);
    else await fail(res, `GET /v1/uploads/${remembered}`);
  }
  if (!status) {
    const res = await call("POST", "/v1/uploads", JSON.stringify({ filename: name, bytes: info.size, contentType: "video/mp4", overwrite, ...(partSize ? { partSize } : {}) }), { "Content-Type": "application/json" });
    if (res.status !== 201) await fail(res, "POST /v1/uploads");
    const created = UploadCreatedSchema.parse(await res.json());
    status = { ...created, status: "uploading", done: [], bytesDone: 0 };
    mkdirSync(cacheDir, { recursive: true });
    writeFileSync(recordFile, JSON.stringify({ uploadId: created.uploadId, file: path, url: base }));
  } else {
    onMessage(`resuming upload ${status.uploadId}: ${status.done.length} of ${status.parts} parts already stored`);
  }
  const upload = status;
  if (upload.bytes !== info.size) throw new UploadError(`${file}: the server's upload ${upload.uploadId} is for ${upload.bytes} bytes, the file has ${info.size}`);

  const done = new Set(upload.done);
  let bytesDone = upload.bytesDone;
  const resumedParts = done.size;
  const todo = Array.from({ length: upload.parts }, (_, i) => i + 1).filter((n) => !done.has(n));
  onProgress({ bytesDone, bytes: upload.bytes, partsDone: done.size, parts: upload.parts });

  if (upload.status !== "completed") {
    const handle = await open(path, "r");
    try {
      const sendParts = async () => {
        for (let n = todo.shift(); n !== undefined; n = todo.shift()) {
          const offset = (n - 1) * upload.partSize;
          const length = Math.min(upload.partSize, upload.bytes - offset);
          const bytes = new Uint8Array(length);
          const { bytesRead } = await handle.read(bytes, 0, length, offset);
          if (bytesRead !== length) throw new UploadError(`${file}: read ${bytesRead} of ${length} bytes at ${offset}; did the file change?`);
          const res = await call("PUT", `/v1/uploads/${upload.uploadId}/parts/${n}`, bytes, { "Content-Type": "application/octet-stream" });
          if (!res.ok) await fail(res, `part ${n}`);
          PartStoredSchema.parse(await res.json());
          done.add(n);
          bytesDone += length;
          onProgress({ bytesDone, bytes: upload.bytes, partsDone: done.size, parts: upload.parts });
        }
      };
      // A sender that fails empties the queue, so the others stop after their current part.
      const senders = Array.from({ length: Math.min(concurrency, todo.length) }, () =>
        sendParts().catch((error: unknown) => {
          todo.length = 0;
          throw error;
        }),
      );
      const failed = (await Promise.allSettled(senders)).find((r) => r.status === "rejected");
      if (failed) throw failed.reason;
    } catch (error) {
      const message = error instanceof UploadError ? error.message : String(error);
      throw new UploadError(`${message}\nupload ${upload.uploadId}: ${done.size} of ${upload.parts} parts stored; run the same command again to resume`);
    } finally {
      await handle.close();
    }
  }

  const res = await call("POST", `/v1/uploads/${upload.uploadId}/complete`);
  if (res.status === 422 || res.status === 404) rmSync(recordFile, { force: true });
  if (!res.ok) await fail(res, `POST /v1/uploads/${upload.uploadId}/complete`);
  const stored = StoredVideoSchema.parse(await res.json());
  rmSync(recordFile, { force: true });
  return { ...stored, uploadId: upload.uploadId, resumedParts, sentParts: upload.parts - resumedParts };
}
