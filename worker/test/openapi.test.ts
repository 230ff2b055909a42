// The OpenAPI document and docs page against the app itself: every route the
// app serves is documented (and nothing else), real answers of every kind
// validate against the schema documented for their status, the examples too,
// and the docs page lists every route without scripts or external resources.
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it, inject } from "vitest";
import type { z } from "zod";
import { AUTH_RESPONSES, ClassifyOptionsSchema, ClassifyVideoResponseSchema, ROUTES, type ResponseDoc } from "../src/api-schemas.ts";
import { app } from "../src/index.ts";
import { PAGE_PATHS } from "../src/page.ts";
import { BASE, classify, file, form, gradient, jpeg } from "./helpers.ts";
import { bearer, deployed, issueKey } from "./keys.ts";

type Json = Record<string, any>; // a parsed document

const videos = inject("videos");
const mp4 = (name: string) => Uint8Array.from(atob(videos[name].base64), (c) => c.charCodeAt(0));

let doc: Json;
beforeAll(async () => {
  const res = await SELF.fetch(`${BASE}/openapi.json`);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  doc = (await res.json()) as Json;
});

/** Hono's "/a/:id" as OpenAPI's "/a/{id}". */
const openApiPath = (path: string) => path.replace(/:([A-Za-z]+)/g, "{$1}");

/**
 * "GET /path" for each API route the Hono app answers (app.all fallbacks and
 * middleware are "ALL"). The playground page and its files are for people,
 * not API clients: not documented (page.test.ts covers them).
 */
const served = () =>
  [...new Set(app.routes.filter((r) => r.method !== "ALL" && !(PAGE_PATHS as readonly string[]).includes(r.path)).map((r) => `${r.method} ${openApiPath(r.path)}`))].sort();

function documented(method: string, path: string, status: number): ResponseDoc {
  const route = ROUTES.find((r) => r.method === method.toLowerCase() && r.path === path);
  expect(route, `${method} ${path} is in ROUTES`).toBeDefined();
  const response = route!.responses[status] ?? (route!.auth ? AUTH_RESPONSES[status] : undefined);
  expect(response, `${method} ${path} documents status ${status}`).toBeDefined();
  return response!;
}

/** The answer parses with the zod schema documented for its route and status. */
async function expectConforms(res: Response, method: string, path: string): Promise<void> {
  const doc = documented(method, path, res.status);
  expect(res.headers.get("content-type")).toContain(doc.contentType ?? "application/json");
  const body = (doc.contentType ?? "application/json") === "application/json" ? await res.json() : await res.text();
  const parsed = doc.schema.safeParse(body);
  expect(parsed.success, `${method} ${path} ${res.status}: ${parsed.error?.message}`).toBe(true);
}

describe("GET /openapi.json", () => {
  it("is OpenAPI 3.1 and documents exactly the routes the app serves", () => {
    expect(doc.openapi).toBe("3.1.0");
    const inDoc = Object.entries<Json>(doc.paths)
      .flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`))
      .sort();
    expect(served().length).toBeGreaterThanOrEqual(6);
    expect(inDoc).toEqual(served());
  });

  it("documents every classify option as a query parameter, and keys and limits where they apply", () => {
    const op = doc.paths["/v1/classify"].post;
    expect(op.parameters.map((p: Json) => p.name).sort()).toEqual(Object.keys(ClassifyOptionsSchema.shape).sort());
    expect(op.requestBody.content["multipart/form-data"].schema.properties.frames.type).toBe("array");
    expect(op.security).toEqual([{ apiKey: [] }]);
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(["200", "400", "401", "429"]));
    expect(op.responses["429"].headers).toHaveProperty("Retry-After");
    expect(op.responses["200"].headers).toHaveProperty("RateLimit-Remaining");
    expect(op.responses["401"].headers).not.toHaveProperty("RateLimit-Remaining"); // refused before the bucket
    expect(op.responses["401"].content["application/json"].schema).toEqual({ $ref: "#/components/schemas/ErrorBody" });
    expect(doc.components.schemas.ErrorBody.required).toEqual(["error", "requestId"]);
    expect(doc.paths["/healthz"].get.security).toEqual([]);
    expect(doc.components.securitySchemes.apiKey).toMatchObject({ type: "http", scheme: "bearer" });
    const revoke = doc.paths["/admin/keys/{id}/revoke"].post;
    expect(revoke.security).toEqual([{ adminToken: [] }]);
    expect(revoke.parameters).toEqual([expect.objectContaining({ name: "id", in: "path", required: true })]);
  });

  it("every example validates against its own schema", () => {
    let examples = 0;
    for (const route of ROUTES) {
      for (const r of Object.values({ ...route.responses, ...(route.auth ? AUTH_RESPONSES : {}) })) {
        if (r.example === undefined) continue;
        examples++;
        expect((r.schema as z.ZodType).safeParse(r.example).success, `${route.path}: ${JSON.stringify(r.example)}`).toBe(true);
      }
    }
    expect(examples).toBeGreaterThanOrEqual(4);
  });

  it("is GET only: other methods get 405 like every route", async () => {
    const res = await SELF.fetch(`${BASE}/openapi.json`, { method: "POST" });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET");
  });
});

describe("real answers validate against the documented schemas", () => {
  it("success answers of every route", async () => {
    await expectConforms(await SELF.fetch(`${BASE}/healthz`), "GET", "/healthz");
    await expectConforms(await SELF.fetch(`${BASE}/v1/models`), "GET", "/v1/models");
    await expectConforms(await SELF.fetch(`${BASE}/openapi.json`), "GET", "/openapi.json");
    await expectConforms(await SELF.fetch(`${BASE}/docs`), "GET", "/docs");
    const frames = await Promise.all([0, 1, 2].map(async (t) => file(await jpeg(64, 48, gradient(t)), `f${t}.jpg`, "image/jpeg")));
    const res = await classify(form(frames), "?topk=2");
    expect(res.status).toBe(200);
    await expectConforms(res, "POST", "/v1/classify");
    const video = await classify(mp4("baseline"), "?topk=2", { "content-type": "video/mp4" });
    expect(video.status).toBe(200);
    expect(ClassifyVideoResponseSchema.safeParse(await video.clone().json()).success).toBe(true);
    await expectConforms(video, "POST", "/v1/classify");
  });

  it("error answers: bad option, unknown model, wrong media type, no key, rate limited", async () => {
    await expectConforms(await classify(form([]), "?topk=x"), "POST", "/v1/classify");
    const frame = file(await jpeg(32, 32, gradient(0)), "f.jpg", "image/jpeg");
    await expectConforms(await classify(form([frame]), "?model=no-such-model"), "POST", "/v1/classify");
    await expectConforms(await classify("plain text", "", { "content-type": "text/plain" }), "POST", "/v1/classify");
    const truncated = await classify(mp4("baseline").slice(0, 4000), "", { "content-type": "video/mp4" });
    expect(truncated.status).toBe(422);
    await expectConforms(truncated, "POST", "/v1/classify");
    await expectConforms(await deployed("/v1/models"), "GET", "/v1/models");
    const issued = await issueKey("openapi-429", { perMinute: 1, burst: 1 });
    await deployed("/v1/models", { headers: bearer(issued.key) });
    await expectConforms(await deployed("/v1/models", { headers: bearer(issued.key) }), "GET", "/v1/models");
  });

  it("the admin route: revoked, bad id, wrong token, switched off", async () => {
    const path = "/admin/keys/{id}/revoke";
    const admin = { Authorization: "Bearer admin-secret" };
    const on = { ADMIN_TOKEN: "admin-secret" };
    await expectConforms(await deployed("/admin/keys/key_00000000000000aa/revoke", { method: "POST", headers: admin }, on), "POST", path);
    await expectConforms(await deployed("/admin/keys/nope/revoke", { method: "POST", headers: admin }, on), "POST", path);
    await expectConforms(await deployed("/admin/keys/key_00000000000000aa/revoke", { method: "POST" }, on), "POST", path);
    await expectConforms(await deployed("/admin/keys/key_00000000000000aa/revoke", { method: "POST", headers: admin }), "POST", path);
  });
});

describe("GET /docs", () => {
  let html = "";
  let res: Response;
  beforeAll(async () => {
    res = await SELF.fetch(`${BASE}/docs`);
    html = await res.text();
  });

  it("is one self-contained HTML page: no scripts, no external resources", () => {
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(html).not.toMatch(/<script|<link|<img|<iframe|\bsrc=/i);
    expect(html).not.toMatch(/href="(https?:)?\/\//i);
  });

  it("lists every route with its parameters and examples", () => {
    for (const route of served()) expect(html, route).toContain(`<code>${route}</code>`);
    for (const name of Object.keys(ClassifyOptionsSchema.shape)) expect(html).toContain(`<code>${name}</code>`);
    expect(html).toContain("<code>top[].label</code>"); // nested answer fields are spelled out
    expect(html).toContain("<code>clips[].keyframeTimes</code>"); // both answers of the classify union
    expect(html).toContain("&quot;move_left&quot;"); // the classify example, escaped
    expect(html).toContain("Authorization: Bearer &lt;key&gt;");
    expect(html).toContain('<a href="#schema-ErrorBody">ErrorBody</a>');
    expect(html).toContain('id="schema-ErrorBody"');
  });
});
