// The OpenAPI 3.1 document, generated from the route table and zod schemas in
// api-schemas.ts with zod's own JSON Schema output (OpenAPI 3.1 schemas are
// JSON Schema 2020-12), built once per isolate on first request.
import type { Context } from "hono";
import { z } from "zod";
import { AUTH_RESPONSES, ErrorBodySchema, ROUTES, type ResponseDoc, type RouteDoc } from "./api-schemas.ts";
import { DEFAULT_RATE_POLICY } from "./ratelimit.ts";
import type { AppEnv } from "./middleware.ts";

type Json = Record<string, unknown>;

// Input schemas describe what is sent (before transforms and defaults), output
// schemas what is answered. $schema is implied by OpenAPI 3.1's jsonSchemaDialect.
function jsonSchema(schema: z.ZodType, io: "input" | "output"): Json {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { target: "draft-2020-12", io, unrepresentable: "any" }) as Json;
  return rest;
}

// Schemas many responses share live once under components.schemas.
const COMPONENTS = new Map<z.ZodType, string>([[ErrorBodySchema, "ErrorBody"]]);

function responseSchema(schema: z.ZodType): Json {
  const name = COMPONENTS.get(schema);
  return name ? { $ref: `#/components/schemas/${name}` } : jsonSchema(schema, "output");
}

const RATE_HEADERS: Json = {
  "RateLimit-Limit": { description: "the key's burst: requests allowed at once", schema: { type: "integer" } },
  "RateLimit-Remaining": { description: "requests left in the key's bucket", schema: { type: "integer" } },
  "RateLimit-Reset": { description: "seconds until the bucket is full again", schema: { type: "integer" } },
};

function response(status: number, doc: ResponseDoc, auth: boolean): Json {
  const media: Json = { schema: responseSchema(doc.schema) };
  if (doc.example !== undefined) media.example = doc.example;
  const headers: Json = { "X-Request-Id": { description: "the request's id (echoed when the client sent a safe one)", schema: { type: "string" } } };
  // The key's bucket is consulted only once the key is known good.
  if (auth && status !== 401) Object.assign(headers, RATE_HEADERS);
  if (status === 401) headers["WWW-Authenticate"] = { description: 'Bearer realm="edgevid" (error="invalid_token" for a bad key)', schema: { type: "string" } };
  if (status === 429) headers["Retry-After"] = { description: "seconds until one request is allowed again", schema: { type: "integer" } };
  if (status === 503) headers["Retry-After"] = { description: "seconds after which the request may be sent again (busy)", schema: { type: "integer" } };
  return { description: doc.description, headers, content: { [doc.contentType ?? "application/json"]: media } };
}

/** Path or query parameters: one per property of the schema (path parameters are always required). */
function parameters(object: z.ZodObject, where: "path" | "query"): Json[] {
  const schema = jsonSchema(object, "input") as { properties?: Record<string, Json>; required?: string[] };
  return Object.entries(schema.properties ?? {}).map(([name, property]) => {
    const { description, ...rest } = property;
    return { name, in: where, required: where === "path" || (schema.required?.includes(name) ?? false), description, schema: rest };
  });
}

function operation(route: RouteDoc): Json {
  const op: Json = { operationId: `${route.method}${route.path.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ?? "").toUpperCase())}`, summary: route.summary, description: route.description };
  const params = [...(route.params ? parameters(route.params, "path") : []), ...(route.query ? parameters(route.query, "query") : [])];
  if (params.length) op.parameters = params;
  if (route.body) {
    const content: Json = {};
    for (const [type, schema] of Object.entries(route.body)) content[type] = { schema: jsonSchema(schema, "input") };
    op.requestBody = { required: true, content };
  }
  const responses = { ...route.responses, ...(route.auth ? AUTH_RESPONSES : {}) };
  op.responses = Object.fromEntries(Object.entries(responses).map(([status, doc]) => [status, response(Number(status), doc, route.auth)]));
  op.security = route.auth ? [{ apiKey: [] }] : route.admin ? [{ adminToken: [] }] : [];
  return op;
}

export function buildOpenApiDocument(): Json {
  const paths: Record<string, Json> = {};
  for (const route of ROUTES) (paths[route.path] ??= {})[route.method] = operation(route);
  return {
    openapi: "3.1.0",
    jsonSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
    info: {
      title: "edgevid",
      version: "1",
      description:
        "Video classification at the edge. Routes under /v1 need an API key (Authorization: Bearer <key>) and are rate-limited per key " +
        `with a token bucket (default ${DEFAULT_RATE_POLICY.perMinute} requests per minute, ${DEFAULT_RATE_POLICY.burst} at once; a key may have its own). ` +
        'Every error is JSON: {"error": {"code", "message", "accepted"}, "requestId"}.',
    },
    security: [{ apiKey: [] }],
    components: {
      schemas: Object.fromEntries([...COMPONENTS].map(([schema, name]) => [name, jsonSchema(schema, "output")])),
      securitySchemes: {
        apiKey: { type: "http", scheme: "bearer", description: "an API key issued with `npm run keys -- create` (stored only as its SHA-256)" },
        adminToken: { type: "http", scheme: "bearer", description: "the Worker's ADMIN_TOKEN secret (`npx wrangler secret put ADMIN_TOKEN`)" },
      },
    },
    paths,
  };
}

// Built once per isolate, on first use (not at start-up), for /openapi.json and /docs alike.
let document: Json | undefined;
let json: string | undefined;

export function openApiDocument(): Json {
  return (document ??= buildOpenApiDocument());
}

export function openApiJson(): string {
  return (json ??= JSON.stringify(openApiDocument()));
}

export async function openapi(c: Context<AppEnv>): Promise<Response> {
  return c.body(openApiJson(), 200, { "Content-Type": "application/json; charset=utf-8" });
}
