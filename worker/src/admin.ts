// POST /admin/keys/:id/revoke: revokes a key in its Durable Object, which every
// request of the key consults, so the key is refused from the next request on
// everywhere; `npm run keys -- revoke ID --url URL` calls it after updating
// the KV record (the lasting truth, which edge caches may serve stale for up
// to a minute). Behind the ADMIN_TOKEN secret; without one the route is off.
import type { Context } from "hono";
import { userError } from "./errors.ts";
import { ApiKeyRecordSchema } from "./keys.ts";
import type { AppEnv } from "./middleware.ts";
import { limiterFor } from "./ratelimit.ts";

const ACCEPTED = 'an "Authorization: Bearer <ADMIN_TOKEN>" header';

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

/** Compares digests without an early exit: the answer's timing says nothing about the token. */
function sameDigest(a: Uint8Array, b: Uint8Array): boolean {
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

async function requireAdmin(c: Context<AppEnv>): Promise<void> {
  const expected = c.env.ADMIN_TOKEN;
  if (!expected) {
    throw userError(403, "admin_disabled", "the admin API is off: the Worker has no ADMIN_TOKEN secret", "set one with `npx wrangler secret put ADMIN_TOKEN`");
  }
  const token = /^Bearer +(\S+) *$/i.exec(c.req.header("Authorization") ?? "")?.[1] ?? "";
  if (!sameDigest(await digest(token), await digest(expected))) {
    c.header("WWW-Authenticate", 'Bearer realm="edgevid-admin"');
    throw userError(401, "invalid_admin_token", "the request does not carry the admin token", ACCEPTED);
  }
}

export async function revokeKey(c: Context<AppEnv>): Promise<Response> {
  await requireAdmin(c);
  const id = c.req.param("id") ?? "";
  if (!ApiKeyRecordSchema.shape.id.safeParse(id).success) {
    throw userError(400, "invalid_key_id", `${JSON.stringify(id.slice(0, 40))} is not a key id`, "key_ and 16 hex digits, as `npm run keys -- list` shows");
  }
  const revoked = await limiterFor(c.env, id).revoke(new Date().toISOString());
  return c.json({ id, revoked });
}
