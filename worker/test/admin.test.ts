// POST /admin/keys/:id/revoke in workerd with the real Durable Object: the key
// is refused from the next request on although its KV record (which edge
// caches may serve stale) still says active; the ADMIN_TOKEN guards the route.
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { BASE, expectError } from "./helpers.ts";
import { bearer, deployed, issueKey } from "./keys.ts";

const ON = { ADMIN_TOKEN: "test-admin-token" };
const ADMIN = { Authorization: `Bearer ${ON.ADMIN_TOKEN}` };
const revoke = (id: string, headers: HeadersInit = ADMIN, vars: Record<string, string> = ON) =>
  deployed(`/admin/keys/${id}/revoke`, { method: "POST", headers }, vars);

describe("POST /admin/keys/:id/revoke", () => {
  it("refuses the key from the next request on, while its KV record still says active", async () => {
    const issued = await issueKey("admin-revoke");
    expect((await deployed("/v1/models", { headers: bearer(issued.key) })).status).toBe(200);
    const res = await revoke(issued.record.id);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { id: string; revoked: string };
    expect(body.id).toBe(issued.record.id);
    expect(Date.parse(body.revoked)).toBeGreaterThan(Date.parse(issued.record.created) - 1);
    const refused = await expectError(await deployed("/v1/models", { headers: bearer(issued.key) }), 401, "revoked_api_key");
    expect(refused.error.message).toContain(body.revoked);
    // Local dev checks keys that are sent, so the revocation holds there too.
    await expectError(await SELF.fetch(`${BASE}/v1/models`, { headers: bearer(issued.key) }), 401, "revoked_api_key");
  });

  it("revoking again answers the first revocation's time", async () => {
    const issued = await issueKey("admin-twice");
    const first = ((await (await revoke(issued.record.id)).json()) as { revoked: string }).revoked;
    await new Promise((r) => setTimeout(r, 5));
    expect(((await (await revoke(issued.record.id)).json()) as { revoked: string }).revoked).toBe(first);
  });

  it("a wrong or missing admin token is 401 with a Bearer challenge; an API key is not an admin token", async () => {
    const issued = await issueKey("admin-not-admin");
    for (const headers of [{}, { Authorization: "Bearer wrong" }, bearer(issued.key)]) {
      const res = await revoke(issued.record.id, headers);
      expect(res.headers.get("www-authenticate")).toBe('Bearer realm="edgevid-admin"');
      await expectError(res, 401, "invalid_admin_token");
    }
    expect((await deployed("/v1/models", { headers: bearer(issued.key) })).status).toBe(200);
  });

  it("a malformed id is 400", async () => {
    await expectError(await revoke("key_XYZ"), 400, "invalid_key_id");
  });

  it("without an ADMIN_TOKEN secret the route is off", async () => {
    await expectError(await revoke("key_0000000000000001", ADMIN, {}), 403, "admin_disabled");
  });

  it("answers other methods with 405", async () => {
    const res = await deployed("/admin/keys/key_0000000000000001/revoke", {}, ON);
    expect(res.headers.get("allow")).toBe("POST");
    await expectError(res, 405, "method_not_allowed");
  });
});
