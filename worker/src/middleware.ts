// Cross-cutting request handling: the app's types, a JSON log line per request
// (with the isolate's wasm memory sizes),
// error rendering, CORS and the body size limit.
import type { Context, ErrorHandler, MiddlewareHandler, NotFoundHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import type { RequestIdVariables } from "hono/request-id";
import { ROUTES } from "./api-schemas.ts";
import { ApiError, userError } from "./errors.ts";
import type { ApiKeyRecord } from "./keys.ts";
import { maxBodyBytes } from "./limits.ts";
import { wasmMemoryBytes } from "./memory.ts";
import type { RateDecision, RateLimiter } from "./ratelimit.ts";
import type { TagBatch } from "./jobs/batches.ts";
import type { JobCoordinator } from "./jobs/coordinator.ts";
import type { JobIndex } from "./jobs/job-index.ts";

export interface Bindings {
  MODELS: R2Bucket;
  /** Videos classified by key (POST /v1/classify with r2Key), read with range gets. */
  VIDEOS: R2Bucket;
  /** Largest accepted request body in bytes (default LIMITS.bodyBytes). */
  MAX_BODY_BYTES?: string;
  /** Comma-separated origins allowed by CORS (default: any). */
  CORS_ORIGINS?: string;
  /** API key records by key hash (keys.ts). */
  API_KEYS: KVNamespace;
  /** One token bucket per API key id (ratelimit.ts). */
  RATE_LIMITER: DurableObjectNamespace<RateLimiter>;
  /** "false" lets requests without a key through (local dev); anything else requires one (auth.ts). */
  REQUIRE_API_KEY?: string;
  /** Secret for /admin/* (admin.ts); unset turns the admin routes off. */
  ADMIN_TOKEN?: string;
  /** Long-video tagging (jobs/): one coordinator per job, one index per owner, the queue of clip batches. */
  JOB_COORDINATOR: DurableObjectNamespace<JobCoordinator>;
  JOB_INDEX: DurableObjectNamespace<JobIndex>;
  TAG_QUEUE: Queue<TagBatch>;
  /** Seconds without progress after which a job's watchdog ends it (default 3600). */
  JOB_WATCHDOG_SECONDS?: string;
  /** Per-isolate admission (admission.ts): bytes admitted requests may hold, requests that may wait, seconds they may wait. */
  ADMISSION_BYTES?: string;
  ADMISSION_QUEUE?: string;
  ADMISSION_WAIT_SECONDS?: string;
  /** Tests only: make queue consumers throw (jobs/consumer.ts). */
  FAULT_INJECTION?: string;
}

export type AppEnv = {
  Bindings: Bindings;
  Variables: RequestIdVariables & { errorCode?: string; apiKey?: ApiKeyRecord; rateLimit?: RateDecision };
};

/** One JSON line per request: what was asked, how it ended, how long it took. */
export const requestLog: MiddlewareHandler<AppEnv> = async (c, next) => {
  const start = performance.now();
  await next();
  const line: Record<string, unknown> = {
    requestId: c.get("requestId"),
    method: c.req.method,
    route: c.req.routePath,
    path: c.req.path,
    status: c.res.status,
    ms: Math.round((performance.now() - start) * 10) / 10,
  };
  const key = c.get("apiKey");
  if (key) line.keyId = key.id;
  const rate = c.get("rateLimit");
  if (rate) line.rateLimit = { allowed: rate.allowed, remaining: rate.remaining };
  const code = c.get("errorCode");
  if (code) line.error = code;
  const wasm = wasmMemoryBytes();
  if (Object.keys(wasm).length) line.wasmBytes = wasm;
  console.log(JSON.stringify(line));
};

function errorResponse(c: Context<AppEnv>, error: ApiError): Response {
  c.set("errorCode", error.code);
  return c.json(error.body(c.get("requestId")), error.status);
}

export const onError: ErrorHandler<AppEnv> = (err, c) => {
  if (err instanceof ApiError) {
    // Server-side problems (a broken model in R2) need an operator: log the why.
    // 503s are a momentary overload (busy, a decoder restart): the request log line names them.
    if (err.status >= 500 && err.status !== 503) console.error(JSON.stringify({ requestId: c.get("requestId"), error: err.code, message: err.message }));
    return errorResponse(c, err);
  }
  console.error(JSON.stringify({ requestId: c.get("requestId"), error: "internal_error", message: String(err), stack: err.stack }));
  return errorResponse(c, new ApiError(500, "internal_error", "the server failed to handle this request; the requestId identifies it in our logs"));
};

export const notFound: NotFoundHandler<AppEnv> = (c) =>
  errorResponse(c, userError(404, "not_found", `no route ${c.req.method} ${c.req.path}`, ROUTES.map((r) => `${r.method.toUpperCase()} ${r.path}`).join(", ")));

export function methodNotAllowed(allowed: string): MiddlewareHandler<AppEnv> {
  return async (c) => {
    c.header("Allow", allowed);
    return errorResponse(c, userError(405, "method_not_allowed", `${c.req.method} is not served on ${c.req.path}`, allowed));
  };
}

export const corsFromEnv: MiddlewareHandler<AppEnv> = (c, next) =>
  cors({
    origin: c.env.CORS_ORIGINS ? c.env.CORS_ORIGINS.split(",").map((o) => o.trim()) : "*",
    allowMethods: ["GET", "POST", "PUT", "DELETE", "OPTIONS"],
    allowHeaders: ["Content-Type", "X-Request-Id", "Authorization"],
    exposeHeaders: ["X-Request-Id", "Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "WWW-Authenticate"],
    maxAge: 600,
  })(c, next);

export const limitBody: MiddlewareHandler<AppEnv> = (c, next) => {
  const maxSize = maxBodyBytes(c.env);
  return bodyLimit({
    maxSize,
    onError: () => {
      throw userError(413, "body_too_large", `the request body is larger than ${maxSize} bytes`, `a body of at most ${maxSize} bytes`);
    },
  })(c, next);
};
