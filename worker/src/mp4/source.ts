// Where a video's bytes come from: the request body, an R2 object (range gets),
// or an http(s) URL (Range requests). The indexer and the sample reader ask for
// byte ranges only, so a long video in R2 or on a web server is never fetched whole.
import { userError } from "../errors.ts";
import { LIMITS } from "../limits.ts";
import { checkUrl } from "./ssrf.ts";

export interface ByteSource {
  /** Total size in bytes. */
  readonly size: number;
  /** Names the video in error messages ("the request body", "r2://key", a URL). */
  readonly what: string;
  /** Exactly `length` bytes from `offset` (which the caller keeps inside the file). */
  read(offset: number, length: number): Promise<Uint8Array>;
}

function checkRange(source: ByteSource, offset: number, length: number): void {
  // Callers validate sample tables against `size` first, so this is a bug guard.
  if (!(Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 && length >= 0 && offset + length <= source.size)) {
    throw new RangeError(`read of ${length} bytes at ${offset} outside ${source.what} (${source.size} bytes)`);
  }
}

export function bytesSource(bytes: Uint8Array, what = "the request body"): ByteSource {
  const source: ByteSource = {
    size: bytes.length,
    what,
    read: async (offset, length) => {
      checkRange(source, offset, length);
      return bytes.subarray(offset, offset + length);
    },
  };
  return source;
}

/** Counts what is read through it (reads are what cost time against R2 or a URL). */
export class MeteredSource implements ByteSource {
  bytesRead = 0;
  reads = 0;
  constructor(readonly inner: ByteSource) {}
  get size(): number {
    return this.inner.size;
  }
  get what(): string {
    return this.inner.what;
  }
  read(offset: number, length: number): Promise<Uint8Array> {
    this.reads++;
    this.bytesRead += length;
    return this.inner.read(offset, length);
  }
}

/**
 * An R2 object read with range gets; every read is pinned to the etag seen by
 * head, or to `etag` when given (a job's consumers read the object its plan was made from).
 */
export async function r2Source(bucket: R2Bucket, key: string, etag?: string): Promise<ByteSource & { etag: string }> {
  const what = `R2 object ${JSON.stringify(key)}`;
  const head = await bucket.head(key);
  if (!head) throw userError(404, "r2_key_not_found", `no ${what} in the bucket`, "the key of a video already uploaded to the bucket");
  if (etag !== undefined && head.etag !== etag) {
    throw userError(409, "r2_object_changed", `${what} was replaced after the job was planned`, "an object that stays in place until its job ends");
  }
  const source: ByteSource & { etag: string } = {
    size: head.size,
    what,
    etag: head.etag,
    async read(offset, length) {
      checkRange(source, offset, length);
      if (length === 0) return new Uint8Array(0);
      const object = await bucket.get(key, { range: { offset, length }, onlyIf: { etagMatches: head.etag } });
      if (!object) throw userError(404, "r2_key_not_found", `${what} was deleted while it was being read`, "an object that stays in place during the request");
      // A precondition failure returns the object's metadata without a body.
      if (!("body" in object)) throw userError(409, "r2_object_changed", `${what} was replaced while it was being read`, "an object that stays in place during the request");
      const bytes = new Uint8Array(await object.arrayBuffer());
      if (bytes.length !== length) throw userError(409, "r2_object_changed", `${what} returned ${bytes.length} of ${length} bytes at ${offset}`, "an object that stays in place during the request");
      return bytes;
    },
  };
  return source;
}

export type Fetch = (url: string, init: RequestInit) => Promise<Response>;

const URL_ACCEPTED = "an http(s) URL of an MP4 file on a server that answers Range requests (206 Partial Content)";
/** The first request asks for this much: ftyp and the first box headers ride along. */
const URL_PROBE_BYTES = 4096;
const MAX_REDIRECTS = 3;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

async function fetchRange(fetcher: Fetch, url: URL, offset: number, length: number): Promise<Response> {
  try {
    return await fetcher(url.href, { headers: { Range: `bytes=${offset}-${offset + length - 1}` }, redirect: "manual" });
  } catch (error) {
    throw userError(422, "url_unreachable", `GET ${url.href} failed: ${(error as Error).message}`, URL_ACCEPTED);
  }
}

/** The body, refusing more than `cap` bytes (a server may ignore Range and send everything). */
async function readCapped(response: Response, cap: number, url: URL, why: string): Promise<Uint8Array> {
  const declared = Number(response.headers.get("content-length") ?? NaN);
  const tooBig = () => userError(422, "url_too_large", `${url.href} sent more than ${cap} bytes ${why}`, URL_ACCEPTED);
  if (declared > cap) {
    await response.body?.cancel();
    throw tooBig();
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (response.body) {
    const reader = response.body.getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      total += r.value.length;
      if (total > cap) {
        await reader.cancel();
        throw tooBig();
      }
      chunks.push(r.value);
    }
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return bytes;
}

/** "bytes 0-4095/123456" → [start, end, total]; total is NaN for "*". */
function contentRange(response: Response): [number, number, number] | undefined {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(response.headers.get("content-range") ?? "");
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

/**
 * A video at an http(s) URL, read with Range requests. The URL and every
 * redirect target (at most 3, followed by hand) must pass checkUrl; the final
 * URL is the one ranges are read from. A server that ignores Range is accepted
 * only for a small body, which is then read whole.
 */
export async function urlSource(text: string, fetcher: Fetch = (url, init) => fetch(url, init)): Promise<ByteSource> {
  let url = checkUrl(text);
  let response = await fetchRange(fetcher, url, 0, URL_PROBE_BYTES);
  for (let hops = 0; REDIRECTS.has(response.status); hops++) {
    await response.body?.cancel();
    const location = response.headers.get("location");
    if (hops === MAX_REDIRECTS || !location) {
      const why = location ? `more than ${MAX_REDIRECTS} redirects` : `a ${response.status} without Location`;
      throw userError(422, "url_redirects", `${url.href} answered with ${why}`, URL_ACCEPTED);
    }
    url = checkUrl(new URL(location, url).href, `the redirect from ${url.host}`);
    response = await fetchRange(fetcher, url, 0, URL_PROBE_BYTES);
  }
  if (response.status === 200) {
    const body = await readCapped(response, LIMITS.urlWholeBodyBytes, url, "without Range support (206 Partial Content): too large to read whole");
    return bytesSource(body, url.href);
  }
  const range = contentRange(response);
  if (response.status === 416) {
    await response.body?.cancel();
    // "bytes */0": the file is empty (the indexer says so); anything else is odd.
    if (/^bytes \*\/0$/.test(response.headers.get("content-range") ?? "")) return bytesSource(new Uint8Array(0), url.href);
  }
  if (response.status !== 206 || !range || range[0] !== 0 || !Number.isSafeInteger(range[2])) {
    await response.body?.cancel();
    const why = response.status === 206 ? `an unusable Content-Range (${response.headers.get("content-range")})` : `HTTP ${response.status}`;
    throw userError(422, "url_fetch_failed", `GET ${url.href} with a Range header answered ${why}`, URL_ACCEPTED);
  }
  const size = range[2];
  const first = await readCapped(response, URL_PROBE_BYTES, url, `for a ${URL_PROBE_BYTES}-byte range`);
  const final = url;
  const source: ByteSource = {
    size,
    what: final.href,
    async read(offset, length) {
      checkRange(source, offset, length);
      if (offset + length <= first.length) return first.subarray(offset, offset + length);
      const r = await fetchRange(fetcher, final, offset, length);
      const got = contentRange(r);
      if (r.status !== 206 || !got || got[0] !== offset || got[1] !== offset + length - 1) {
        await r.body?.cancel();
        throw userError(422, "url_fetch_failed", `GET ${final.href} bytes ${offset}-${offset + length - 1} answered HTTP ${r.status} ${r.headers.get("content-range") ?? ""}`.trim(), URL_ACCEPTED);
      }
      const bytes = await readCapped(r, length, final, `for a ${length}-byte range`);
      if (bytes.length !== length) throw userError(422, "url_fetch_failed", `${final.href} sent ${bytes.length} of ${length} bytes at ${offset}`, URL_ACCEPTED);
      return bytes;
    },
  };
  return source;
}
