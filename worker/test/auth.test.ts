// API keys in workerd with the real KV namespace from wrangler.toml: bearer
// keys stored by hash, 401 with a Bearer challenge for missing, unknown and
// revoked keys, revocation at once, public routes, and local dev without keys.
import { SELF, env } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { storageKey } from "../src/keys.ts";
import { BASE, expectError } from "./helpers.ts";
import { bearer, deployed, issueKey, revokeKey } from "./keys.ts";

describe("keys required (as deployed)", () => {
  it("a request without a key is 401 with a Bearer challenge", async () => {
    const res = await deployed("/v1/models");
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="edgevid"');
    await expectError(res, 401, "missing_api_key");
  });

  it.each([
    ["another scheme", "Basic dXNlcjpwYXNz"],
    ["no token", "Bearer"],
    ["a malformed token", "Bearer not-a-key"],
    ["a well-formed key nobody issued", `Bearer ev_${"A".repeat(43)}`],
  ])("%s is 401 invalid_token", async (_, header) => {
    const res = await deployed("/v1/models", { headers: { Authorization: header } });
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="edgevid", error="invalid_token"');
    await expectError(res, 401, "invalid_api_key");
  });

  it("an issued key is accepted, and its id is in the request's log line", async () => {
    const issued = await issueKey("auth-ok");
    const log = vi.spyOn(console, "log");
    try {
      const res = await deployed("/v1/models", { headers: { ...bearer(issued.key), "x-request-id": "auth-log" } });
      expect(res.status).toBe(200);
      const line = log.mock.calls.map((c) => String(c[0])).find((l) => l.includes('"auth-log"'));
      expect(JSON.parse(line!)).toMatchObject({ keyId: issued.record.id, status: 200, route: "/v1/models" });
    } finally {
      log.mockRestore();
    }
  });

  it("the scheme is case-insensitive (RFC 7235)", async () => {
    const issued = await issueKey("auth-case");
    expect((await deployed("/v1/models", { headers: { Authorization: `bearer ${issued.key}` } })).status).toBe(200);
  });

  it("revocation takes effect on the next request", async () => {
    const issued = await issueKey("auth-revoked");
    expect((await deployed("/v1/models", { headers: bearer(issued.key) })).status).toBe(200);
    await revokeKey(issued);
    const res = await deployed("/v1/models", { headers: bearer(issued.key) });
    const body = await expectError(res, 401, "revoked_api_key");
    expect(body.error.message).toContain(issued.record.id);
  });

  it("KV holds the record under the key's hash, not the key", async () => {
    const issued = await issueKey("auth-hash");
    const names = (await env.API_KEYS.list()).keys.map((k) => k.name);
    expect(names).toContain(await storageKey(issued.key));
    expect(names.some((n) => n.includes(issued.key))).toBe(false);
    expect(await env.API_KEYS.get(await storageKey(issued.key))).not.toContain(issued.key);
  });

  it("a broken record is the operator's 500, not a pass", async () => {
    const key = `ev_${"B".repeat(43)}`;
    await env.API_KEYS.put(await storageKey(key), JSON.stringify({ id: "key_1", name: "broken" }));
    await expectError(await deployed("/v1/models", { headers: bearer(key) }), 500, "api_key_record_invalid");
  });

  it("/healthz, /openapi.json and /docs stay public", async () => {
    for (const path of ["/healthz", "/openapi.json", "/docs"]) {
      expect((await deployed(path)).status, path).toBe(200);
    }
  });

  it("keys guard /v1/* before the route is resolved or the body is read", async () => {
    await expectError(await deployed("/v1/nothing"), 401, "missing_api_key");
    await expectError(await deployed("/v1/classify", { method: "POST", body: "x".repeat(3 * 1024 * 1024) }), 401, "missing_api_key");
  });

  it("CORS preflights allow the Authorization header without a key", async () => {
    const res = await deployed("/v1/classify", {
      method: "OPTIONS",
      headers: { Origin: "https://app.example", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization" },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization");
  });
});

describe("keys optional (local dev, REQUIRE_API_KEY=false)", () => {
  it("a request without a key is served anonymously", async () => {
    expect((await SELF.fetch(`${BASE}/v1/models`)).status).toBe(200);
  });

  it("a key that is sent is still checked", async () => {
    await expectError(await SELF.fetch(`${BASE}/v1/models`, { headers: bearer(`ev_${"C".repeat(43)}`) }), 401, "invalid_api_key");
    const issued = await issueKey("auth-local");
    expect((await SELF.fetch(`${BASE}/v1/models`, { headers: bearer(issued.key) })).status).toBe(200);
  });
});
