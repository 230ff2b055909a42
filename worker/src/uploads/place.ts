// Putting a checked video at its name, so that the name never holds a bad file
// and is never empty: the bytes are indexed first (a PUT body in memory, a
// multipart upload assembled at a staging key), and only then written to the
// name in one put, which R2 makes visible atomically (readers see the old
// object or the new one). A name that exists is kept unless the client asked
// to overwrite: the put is conditional (If-None-Match: *), so two uploads
// racing for a new name cannot both win.
import { userError } from "../errors.ts";

export interface Placement {
  key: string;
  owner: string;
  /** Replace an object already at `key` (else 409 video_exists). */
  overwrite: boolean;
}

function exists(key: string): never {
  throw userError(409, "video_exists", `a video is already stored at ${key}`, "another name, or overwrite=true to replace it");
}

/** 409 before any bytes are sent when the name is taken and overwrite was not asked for. */
export async function checkFree(bucket: R2Bucket, { key, overwrite }: Placement): Promise<void> {
  if (!overwrite && (await bucket.head(key))) exists(key);
}

/** Writes `body` (of known length) at the name; 409 if the name was taken meanwhile and overwrite is off. */
export async function placeVideo(bucket: R2Bucket, body: ReadableStream | Uint8Array, { key, owner, overwrite }: Placement): Promise<R2Object> {
  const object = await bucket.put(key, body, {
    httpMetadata: { contentType: "video/mp4" },
    customMetadata: { owner },
    ...(overwrite ? {} : { onlyIf: new Headers({ "If-None-Match": "*" }) }),
  });
  // A failed condition answers null, having written nothing.
  return object ?? exists(key);
}
