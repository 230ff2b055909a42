// A local file as the Worker's ByteSource: positioned reads of exactly the
// ranges asked for, so indexMp4 and readSamples read as little of a long file
// on disk as they do of an R2 object.
import { open, type FileHandle } from "node:fs/promises";
import type { ByteSource } from "../worker/src/mp4/source.ts";

export interface FileSource extends ByteSource {
  close(): Promise<void>;
}

export async function openFileSource(path: string): Promise<FileSource> {
  const handle: FileHandle = await open(path, "r");
  const { size } = await handle.stat();
  return {
    size,
    what: path,
    async read(offset, length) {
      if (!(Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 && length >= 0 && offset + length <= size)) {
        throw new RangeError(`read of ${length} bytes at ${offset} outside ${path} (${size} bytes)`);
      }
      // A plain Uint8Array, never a Buffer: Buffer#slice makes a view, and
      // indexMp4 copies boxes with slice() before handing their .buffer to mp4box.
      const bytes = new Uint8Array(length);
      for (let at = 0; at < length; ) {
        const { bytesRead } = await handle.read(bytes, at, length - at, offset + at);
        if (bytesRead === 0) throw new Error(`${path} ended at byte ${offset + at} while reading ${length} bytes at ${offset}: was it truncated while being read?`);
        at += bytesRead;
      }
      return bytes;
    },
    close: () => handle.close(),
  };
}
