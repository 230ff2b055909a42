// Per-key rate limits in workerd with the real Durable Object from
// wrangler.toml: a token bucket per key id, 429 with Retry-After and
// RateLimit headers, buckets independent per key, refill over time.
import { SELF, env } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import type { RatePolicy } from "../src/keys.ts";
import { DEFAULT_RATE_POLICY, type RateDecision } from "../src/ratelimit.ts";
import { BASE, expectError } from "./helpers.ts";
import { bearer, deployed, issueKey } from "./keys.ts";

const limiter = (name: string) => {
  const stub = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(name));
  return {
    async take(policy: RatePolicy): Promise<RateDecision> {
      const result = await stub.take(policy);
      if (result.revoked !== undefined) throw new Error(`${name} is revoked`);
      return result;
    },
  };
};

describe("the token bucket (RateLimiter Durable Object)", () => {
  it("allows a burst, then refuses until a token refills", async () => {
    const bucket = limiter("bucket-refill");
    const policy = { perMinute: 60, burst: 2 }; // one token a second
    expect(await bucket.take(policy)).toMatchObject({ allowed: true, limit: 2, remaining: 1 });
    expect(await bucket.take(policy)).toMatchObject({ allowed: true, remaining: 0 });
    const refused = await bucket.take(policy);
    expect(refused).toMatchObject({ allowed: false, remaining: 0, retryAfterSeconds: 1 });
    expect(refused.resetSeconds).toBe(2);
    await new Promise((r) => setTimeout(r, 1100));
    expect(await bucket.take(policy)).toMatchObject({ allowed: true, remaining: 0 });
  });

  it("a lowered policy applies at once (the bucket is clamped to the new size)", async () => {
    const bucket = limiter("bucket-lowered");
    await bucket.take({ perMinute: 1, burst: 10 });
    expect(await bucket.take({ perMinute: 1, burst: 1 })).toMatchObject({ allowed: true, limit: 1, remaining: 0 });
    expect((await bucket.take({ perMinute: 1, burst: 1 })).allowed).toBe(false);
  });
});

describe("rate limits on /v1/*", () => {
  it("a key's burst is served, the next request is 429 with Retry-After, and the log says so", async () => {
    const issued = await issueKey("rate-burst", { perMinute: 1, burst: 3 });
    for (const remaining of [2, 1, 0]) {
      const res = await deployed("/v1/models", { headers: bearer(issued.key) });
      expect(res.status).toBe(200);
      expect(res.headers.get("ratelimit-limit")).toBe("3");
      expect(res.headers.get("ratelimit-remaining")).toBe(String(remaining));
    }
    const log = vi.spyOn(console, "log");
    try {
      const res = await deployed("/v1/models", { headers: { ...bearer(issued.key), "x-request-id": "rate-log" } });
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(59);
      expect(Number(res.headers.get("retry-after"))).toBeLessThanOrEqual(60);
      expect(res.headers.get("ratelimit-remaining")).toBe("0");
      await expectError(res, 429, "rate_limited");
      const line = log.mock.calls.map((c) => String(c[0])).find((l) => l.includes('"rate-log"'));
      expect(JSON.parse(line!)).toMatchObject({ status: 429, keyId: issued.record.id, rateLimit: { allowed: false, remaining: 0 }, error: "rate_limited" });
    } finally {
      log.mockRestore();
    }
  });

  it("the limit is checked before the body is read, and error answers carry the headers too", async () => {
    const issued = await issueKey("rate-body", { perMinute: 1, burst: 1 });
    const first = await deployed("/v1/classify", { method: "POST", headers: bearer(issued.key), body: "not multipart" });
    expect(first.headers.get("ratelimit-remaining")).toBe("0");
    await expectError(first, 415, "unsupported_media_type");
    await expectError(await deployed("/v1/classify", { method: "POST", headers: bearer(issued.key), body: "x".repeat(3 * 1024 * 1024) }), 429, "rate_limited");
  });

  it("each key has its own bucket", async () => {
    const a = await issueKey("rate-a", { perMinute: 1, burst: 1 });
    const b = await issueKey("rate-b", { perMinute: 1, burst: 1 });
    expect((await deployed("/v1/models", { headers: bearer(a.key) })).status).toBe(200);
    await expectError(await deployed("/v1/models", { headers: bearer(a.key) }), 429, "rate_limited");
    expect((await deployed("/v1/models", { headers: bearer(b.key) })).status).toBe(200);
  });

  it("a key without its own policy gets the default one", async () => {
    const issued = await issueKey("rate-default");
    const res = await deployed("/v1/models", { headers: bearer(issued.key) });
    expect(res.headers.get("ratelimit-limit")).toBe(String(DEFAULT_RATE_POLICY.burst));
    expect(res.headers.get("ratelimit-remaining")).toBe(String(DEFAULT_RATE_POLICY.burst - 1));
  });

  it("anonymous local-dev requests are not limited and carry no RateLimit headers", async () => {
    const res = await SELF.fetch(`${BASE}/v1/models`);
    expect(res.status).toBe(200);
    expect(res.headers.get("ratelimit-limit")).toBeNull();
  });

  it("CORS exposes the rate-limit headers to browsers", async () => {
    const res = await SELF.fetch(`${BASE}/healthz`, { headers: { Origin: "https://app.example" } });
    const exposed = res.headers.get("access-control-expose-headers")?.toLowerCase() ?? "";
    for (const h of ["retry-after", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"]) expect(exposed).toContain(h);
  });
});
