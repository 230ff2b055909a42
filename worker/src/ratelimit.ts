// Per-key rate limits: a token bucket in a Durable Object, one object per key
// id, so every request of a key, wherever it lands, draws from one bucket
// (a Durable Object is single-threaded: no lost updates). Requests without a
// key (local dev, REQUIRE_API_KEY="false") are not limited. The same object
// holds a revocation made through the admin route (admin.ts): it is consulted
// on every request of the key, so unlike the KV record, which edge caches may
// serve for up to a minute, it refuses the key from the very next request.
import { DurableObject } from "cloudflare:workers";
import type { Context, MiddlewareHandler } from "hono";
import { unauthorized } from "./auth.ts";
import { userError } from "./errors.ts";
import type { RatePolicy } from "./keys.ts";
import type { AppEnv } from "./middleware.ts";

/** For keys whose record sets no rateLimit. */
export const DEFAULT_RATE_POLICY: RatePolicy = { perMinute: 60, burst: 20 };

export interface RateDecision {
  allowed: boolean;
  /** The bucket's size. */
  limit: number;
  /** Whole requests left in the bucket after this one. */
  remaining: number;
  /** Seconds until the bucket is full again. */
  resetSeconds: number;
  /** Seconds until one request is allowed again (0 when allowed). */
  retryAfterSeconds: number;
}

export type TakeResult = { revoked: string } | ({ revoked?: undefined } & RateDecision);

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter extends DurableObject {
  /** Takes one request from the bucket if it holds one. The policy comes with each call: a changed key record applies at once. */
  take(policy: RatePolicy): TakeResult {
    const revoked = this.ctx.storage.kv.get<string>("revoked");
    if (revoked !== undefined) return { revoked };
    const now = Date.now();
    const perMs = policy.perMinute / 60_000;
    // Stored in the object's SQLite storage: the bucket survives eviction.
    const bucket = this.ctx.storage.kv.get<Bucket>("bucket");
    let tokens = bucket ? Math.min(policy.burst, bucket.tokens + Math.max(0, now - bucket.at) * perMs) : policy.burst;
    const allowed = tokens >= 1;
    if (allowed) tokens -= 1;
    this.ctx.storage.kv.put("bucket", { tokens, at: now } satisfies Bucket);
    return {
      allowed,
      limit: policy.burst,
      remaining: Math.floor(tokens),
      resetSeconds: Math.ceil((policy.burst - tokens) / perMs / 1000),
      retryAfterSeconds: allowed ? 0 : Math.ceil((1 - tokens) / perMs / 1000),
    };
  }

  /** Refuses the key from now on; answers when it was revoked (the first time counts). */
  revoke(at: string): string {
    const earlier = this.ctx.storage.kv.get<string>("revoked");
    if (earlier !== undefined) return earlier;
    this.ctx.storage.kv.put("revoked", at);
    return at;
  }
}

export function limiterFor(env: AppEnv["Bindings"], keyId: string): DurableObjectStub<RateLimiter> {
  return env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(keyId));
}

function setHeaders(c: Context<AppEnv>, d: RateDecision): void {
  c.header("RateLimit-Limit", String(d.limit));
  c.header("RateLimit-Remaining", String(d.remaining));
  c.header("RateLimit-Reset", String(d.resetSeconds));
  if (!d.allowed) c.header("Retry-After", String(d.retryAfterSeconds));
}

/** After authenticate: one request from the key's bucket, or 429. */
export const limitRate: MiddlewareHandler<AppEnv> = async (c, next) => {
  const key = c.get("apiKey");
  if (!key) return next();
  const policy = key.rateLimit ?? DEFAULT_RATE_POLICY;
  const decision = await limiterFor(c.env, key.id).take(policy);
  if (decision.revoked !== undefined) throw unauthorized(c, "revoked_api_key", `the API key ${key.id} was revoked at ${decision.revoked}`);
  c.set("rateLimit", decision);
  setHeaders(c, decision);
  if (!decision.allowed) {
    throw userError(
      429,
      "rate_limited",
      `API key ${key.id} has no requests left; one is allowed again in ${decision.retryAfterSeconds} s`,
      `at most ${policy.perMinute} requests per minute and ${policy.burst} at once per key; retry after the Retry-After header's seconds`,
    );
  }
  return next();
};
