// Where a resumable upload's state lives: in the VIDEOS bucket itself, beside
// R2's own multipart upload (no Durable Object to configure or pay for).
//   uploads/<id>/state         JSON: owner, target key, sizes, R2's upload id
//   uploads/<id>/parts/<n>     empty; custom metadata holds the part's etag
//   uploads/<id>/video         R2's multipart upload, assembled here and indexed
//                              before it is written at its name (place.ts)
// One object per finished part, so parallel part uploads never race on a
// read-modify-write; one listing (with custom metadata) says which parts are
// done. R2 is strongly consistent for writes followed by reads and listings.
import { serverError } from "../errors.ts";
import { UploadStateSchema, type UploadState } from "./schemas.ts";

export interface PartRecord {
  part: number;
  etag: string;
  bytes: number;
}

/** Where the upload's bytes are assembled: never the video's own name, which keeps its old object until the new one is checked. */
export const stagingKey = (id: string) => `uploads/${id}/video`;
const stateKey = (id: string) => `uploads/${id}/state`;
const partsPrefix = (id: string) => `uploads/${id}/parts/`;
// Zero-padded so that R2's lexicographic listing is also numeric order.
const partKey = (id: string, n: number) => `${partsPrefix(id)}${String(n).padStart(5, "0")}`;

export async function readState(bucket: R2Bucket, id: string): Promise<UploadState | null> {
  const object = await bucket.get(stateKey(id));
  if (!object) return null;
  const parsed = UploadStateSchema.safeParse(await object.json());
  if (!parsed.success) throw serverError("upload_state_invalid", `R2 object ${stateKey(id)} is not an upload state: ${parsed.error.message}`);
  return parsed.data;
}

export async function writeState(bucket: R2Bucket, state: UploadState): Promise<void> {
  await bucket.put(stateKey(state.id), JSON.stringify(state), { httpMetadata: { contentType: "application/json" } });
}

export async function recordPart(bucket: R2Bucket, id: string, record: PartRecord): Promise<void> {
  await bucket.put(partKey(id, record.part), null, { customMetadata: { etag: record.etag, bytes: String(record.bytes) } });
}

/** The finished parts, ascending. */
export async function listParts(bucket: R2Bucket, id: string): Promise<PartRecord[]> {
  const parts: PartRecord[] = [];
  let cursor: string | undefined;
  do {
    // `include` is in R2's API but not yet in workers-types' R2ListOptions.
    const options = { prefix: partsPrefix(id), cursor, include: ["customMetadata"] } as R2ListOptions;
    const page = await bucket.list(options);
    for (const object of page.objects) {
      const { etag, bytes } = object.customMetadata ?? {};
      if (etag === undefined || bytes === undefined) throw serverError("upload_state_invalid", `R2 object ${object.key} has no part metadata`);
      parts.push({ part: Number(object.key.slice(-5)), etag, bytes: Number(bytes) });
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return parts;
}

/** Drops the part records (R2 deletes at most 1000 keys per call). */
export async function deleteParts(bucket: R2Bucket, id: string, parts: PartRecord[]): Promise<void> {
  const keys = parts.map((p) => partKey(id, p.part));
  for (let i = 0; i < keys.length; i += 1000) await bucket.delete(keys.slice(i, i + 1000));
}

/** Forgets the upload entirely. */
export async function deleteUpload(bucket: R2Bucket, id: string): Promise<void> {
  await deleteParts(bucket, id, await listParts(bucket, id));
  await bucket.delete(stateKey(id));
}
