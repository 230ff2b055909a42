// API keys on /v1/*: `Authorization: Bearer <key>`, looked up by its SHA-256
// in the API_KEYS KV namespace (keys.ts). REQUIRE_API_KEY="false" (local dev,
// set by `npm start`) lets requests without the header through anonymously;
// any other value, or none, requires a key: a deploy is never open by accident.
// A key that is sent is always checked, so keys can be tried locally too.
import type { Context, MiddlewareHandler } from "hono";
import { describeIssues, serverError, userError, type ApiError } from "./errors.ts";
import { ApiKeyRecordSchema, isWellFormedKey, storageKey, type ApiKeyRecord } from "./keys.ts";
import type { AppEnv } from "./middleware.ts";

const ACCEPTED = 'an "Authorization: Bearer <key>" header with a valid, unrevoked API key (ask the operator for one)';

export function unauthorized(c: Context<AppEnv>, code: string, message: string): ApiError {
  // RFC 6750: a request without credentials gets the bare challenge, a bad token "invalid_token".
  c.header("WWW-Authenticate", code === "missing_api_key" ? 'Bearer realm="edgevid"' : 'Bearer realm="edgevid", error="invalid_token"');
  return userError(401, code, message, ACCEPTED);
}

async function lookUp(kv: KVNamespace, key: string): Promise<ApiKeyRecord | null> {
  const where = await storageKey(key);
  const stored = await kv.get(where, "json");
  if (stored === null) return null;
  const parsed = ApiKeyRecordSchema.safeParse(stored);
  if (!parsed.success) {
    throw serverError("api_key_record_invalid", `KV API_KEYS ${where.slice(0, 19)}… is not a key record: ${describeIssues(parsed.error.issues, "(root)")}`);
  }
  return parsed.data;
}

/** Who owns what a request creates (uploads, jobs): its key's id, or "anonymous" when keys are off. */
export function ownerOf(c: Context<AppEnv>): string {
  return c.get("apiKey")?.id ?? "anonymous";
}

/**
 * Uploads live at videos/<key id>/<name> (uploads/routes.ts): another key's
 * uploads are not found, by classify or jobs alike. uploads/ holds the upload
 * machinery's own objects (state, parts, files not yet checked): found by no one.
 * Other keys were put there by the operator and are open to every key.
 */
export function checkVideoAccess(owner: string, key: string): void {
  if (key.startsWith("uploads/") || (key.startsWith("videos/") && !key.startsWith(`videos/${owner}/`))) {
    throw userError(404, "r2_key_not_found", `no R2 object ${JSON.stringify(key)} for this API key`, `the key of a video this API key uploaded (videos/${owner}/<name>)`);
  }
}

export const authenticate: MiddlewareHandler<AppEnv> = async (c, next) => {
  const header = c.req.header("Authorization");
  if (header === undefined) {
    if (c.env.REQUIRE_API_KEY === "false") return next();
    throw unauthorized(c, "missing_api_key", "the request has no Authorization header");
  }
  const token = /^Bearer +(\S+) *$/i.exec(header)?.[1];
  if (token === undefined) throw unauthorized(c, "invalid_api_key", 'the Authorization header is not "Bearer <key>"');
  // A malformed token cannot be a key: no KV read for it.
  const record = isWellFormedKey(token) ? await lookUp(c.env.API_KEYS, token) : null;
  if (record === null) throw unauthorized(c, "invalid_api_key", "the API key is not one this service issued");
  if (record.revoked !== null) throw unauthorized(c, "revoked_api_key", `the API key ${record.id} was revoked at ${record.revoked}`);
  c.set("apiKey", record);
  return next();
};
