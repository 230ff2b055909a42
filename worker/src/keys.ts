// API keys: what a key looks like, how it is stored, how it is looked up.
// Shared by the Worker (auth.ts) and the key CLI (worker/scripts/keys.ts), so
// both agree on the format. KV holds, under "sha256:<hex of the key>", the
// record below and never the key itself: a leaked KV dump grants nothing.
// A plain SHA-256 suffices (no slow KDF) because keys are 256 random bits,
// not passwords: there is nothing to guess.
import { z } from "zod";

export const KEY_PREFIX = "ev_";
// "ev_" + 32 random bytes in unpadded base64url (43 characters).
const KEY_FORMAT = /^ev_[A-Za-z0-9_-]{43}$/;

export const RatePolicySchema = z
  .object({
    perMinute: z.number().int().min(1).max(1_000_000).describe("sustained requests per minute (the bucket's refill rate)"),
    burst: z.number().int().min(1).max(100_000).describe("requests allowed at once (the bucket's size)"),
  })
  .strict();
export type RatePolicy = z.infer<typeof RatePolicySchema>;

export const ApiKeyRecordSchema = z
  .object({
    id: z.string().regex(/^key_[0-9a-f]{16}$/),
    name: z.string().min(1).max(100),
    created: z.iso.datetime(),
    /** When the key was revoked; null while it is valid. */
    revoked: z.iso.datetime().nullable(),
    /** Overrides the default policy for this key. */
    rateLimit: RatePolicySchema.optional(),
  })
  .strict();
export type ApiKeyRecord = z.infer<typeof ApiKeyRecordSchema>;

function hex(bytes: ArrayBuffer | Uint8Array): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function isWellFormedKey(key: string): boolean {
  return KEY_FORMAT.test(key);
}

/** The KV key under which a key's record lives. */
export async function storageKey(key: string): Promise<string> {
  return `sha256:${hex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key)))}`;
}

/** A fresh key and its record (the caller stores the record and shows the key once). */
export function newKey(name: string, rateLimit?: RatePolicy, now = new Date()): { key: string; record: ApiKeyRecord } {
  const key = KEY_PREFIX + base64url(crypto.getRandomValues(new Uint8Array(32)));
  const record = ApiKeyRecordSchema.parse({
    id: `key_${hex(crypto.getRandomValues(new Uint8Array(8)))}`,
    name,
    created: now.toISOString(),
    revoked: null,
    ...(rateLimit ? { rateLimit } : {}),
  });
  return { key, record };
}

/** The record after revocation: kept (for listing and a clear 401), marked with when. */
export function revokedRecord(record: ApiKeyRecord, now = new Date()): ApiKeyRecord {
  return { ...record, revoked: record.revoked ?? now.toISOString() };
}
