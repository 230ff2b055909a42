// Issue and revoke API keys in the test's KV the way `npm run keys` does:
// the record under the key's hash (worker/src/keys.ts), never the key.
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import app from "../src/index.ts";
import { newKey, revokedRecord, storageKey, type ApiKeyRecord, type RatePolicy } from "../src/keys.ts";
import { BASE } from "./helpers.ts";

export interface Issued {
  key: string;
  record: ApiKeyRecord;
}

export async function issueKey(name: string, rateLimit?: RatePolicy): Promise<Issued> {
  const issued = newKey(name, rateLimit);
  await env.API_KEYS.put(await storageKey(issued.key), JSON.stringify(issued.record));
  return issued;
}

export async function revokeKey({ key, record }: Issued): Promise<void> {
  await env.API_KEYS.put(await storageKey(key), JSON.stringify(revokedRecord(record)));
}

export const bearer = (key: string): HeadersInit => ({ Authorization: `Bearer ${key}` });

/** The app as deployed (keys required), with the test's real KV and Durable Objects; `vars` adds or overrides vars and secrets. */
export async function deployed(path: string, init: RequestInit = {}, vars: Record<string, string> = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`${BASE}${path}`, init), { ...env, REQUIRE_API_KEY: "true", ...vars }, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}
