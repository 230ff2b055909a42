// How a file is cut into parts, by R2's multipart rules: every part but the
// last has the same size, at least 5 MiB; at most 10,000 parts. Parts are
// streamed from the request into R2, so their size is bounded by what one
// request body may be on Workers (~100 MB), not by isolate memory.
export const MIN_PART_BYTES = 5 * 1024 * 1024;
export const MAX_PART_BYTES = 64 * 1024 * 1024;
export const DEFAULT_PART_BYTES = 8 * 1024 * 1024;
export const MAX_PARTS = 10_000;
const MIB = 1024 * 1024;

/** The part size for a file: the one asked for (or the default), raised in whole MiB until the parts fit in MAX_PARTS. */
export function choosePartSize(bytes: number, requested?: number): number {
  const wanted = requested ?? DEFAULT_PART_BYTES;
  const needed = Math.ceil(bytes / MAX_PARTS / MIB) * MIB;
  return Math.max(wanted, needed);
}

export function partCount(bytes: number, partSize: number): number {
  return Math.ceil(bytes / partSize);
}

/** Bytes of part n (1-based) of the file. */
export function partBytes(n: number, bytes: number, partSize: number): number {
  return n < partCount(bytes, partSize) ? partSize : bytes - (n - 1) * partSize;
}
