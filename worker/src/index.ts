// The edgevid Worker: a Hono app. Nothing heavy happens at import time
// (Cloudflare allows 1 s of startup): models, ORT and decoders load on first use.
import { Hono } from "hono";
import { requestId } from "hono/request-id";
import { revokeKey } from "./admin.ts";
import { admit } from "./admission.ts";
import { authenticate } from "./auth.ts";
import { docs } from "./docs.ts";
import { classifyRequest, healthz, models } from "./handlers.ts";
import { corsFromEnv, limitBody, methodNotAllowed, notFound, onError, requestLog, type AppEnv } from "./middleware.ts";
import { openapi } from "./openapi.ts";
import { page } from "./page.ts";
import { limitRate } from "./ratelimit.ts";
import { abortUpload, completeUpload, createUpload, putPart, putVideo, uploadStatus } from "./uploads/routes.ts";
import { queue } from "./jobs/consumer.ts";
import { cancelJob, createJob, getJob, getJobCsv, getJobTimeline, getJobVtt, listJobs } from "./jobs/routes.ts";

const app = new Hono<AppEnv>();

// X-Request-Id: echoed when the client sends a safe one, else a fresh UUID.
app.use(requestId());
app.use(requestLog);
app.use(corsFromEnv);
app.onError(onError);
app.notFound(notFound);
// API keys and per-key rate limits guard /v1/*; /healthz, /openapi.json and /docs stay public.
app.use("/v1/*", authenticate, limitRate);

app.get("/healthz", healthz);
app.get("/openapi.json", openapi);
app.get("/docs", docs);
app.get("/v1/models", models);
// Routes that buffer or decode videos are admitted in turn, per isolate (admission.ts).
app.post("/v1/classify", limitBody, admit, classifyRequest);
app.post("/admin/keys/:id/revoke", revokeKey);
app.put("/v1/videos/:name", limitBody, admit, putVideo);
app.post("/v1/uploads", createUpload);
// Parts are streamed into R2 and checked against the upload's part size, not MAX_BODY_BYTES.
app.put("/v1/uploads/:uploadId/parts/:part", putPart);
app.get("/v1/uploads/:uploadId", uploadStatus);
app.delete("/v1/uploads/:uploadId", abortUpload);
app.post("/v1/uploads/:uploadId/complete", admit, completeUpload);
app.post("/v1/jobs", admit, createJob);
app.get("/v1/jobs", listJobs);
app.get("/v1/jobs/:id", getJob);
app.delete("/v1/jobs/:id", cancelJob);
app.get("/v1/jobs/:id/results.csv", getJobCsv);
app.get("/v1/jobs/:id/results.vtt", getJobVtt);
app.get("/v1/jobs/:id/timeline", getJobTimeline);

app.all("/healthz", methodNotAllowed("GET"));
app.all("/openapi.json", methodNotAllowed("GET"));
app.all("/docs", methodNotAllowed("GET"));
app.all("/v1/models", methodNotAllowed("GET"));
app.all("/v1/classify", methodNotAllowed("POST"));
app.all("/admin/keys/:id/revoke", methodNotAllowed("POST"));
app.all("/v1/videos/:name", methodNotAllowed("PUT"));
app.all("/v1/uploads", methodNotAllowed("POST"));
app.all("/v1/uploads/:uploadId/parts/:part", methodNotAllowed("PUT"));
app.all("/v1/uploads/:uploadId", methodNotAllowed("GET, DELETE"));
app.all("/v1/uploads/:uploadId/complete", methodNotAllowed("POST"));
app.all("/v1/jobs", methodNotAllowed("GET, POST"));
app.all("/v1/jobs/:id", methodNotAllowed("GET, DELETE"));
app.all("/v1/jobs/:id/results.csv", methodNotAllowed("GET"));
app.all("/v1/jobs/:id/results.vtt", methodNotAllowed("GET"));
app.all("/v1/jobs/:id/timeline", methodNotAllowed("GET"));

// GET /: the playground page, a way to try the API from a browser (page.ts).
app.route("/", page);

// The Hono app itself (tests read its routes); the Worker exports its handlers:
// HTTP, and the queue consumer of long-video tagging (jobs/consumer.ts).
export { app };
export default { fetch: app.fetch, queue } satisfies ExportedHandler<AppEnv["Bindings"]>;
// The Durable Object class behind the RATE_LIMITER binding.
export { RateLimiter } from "./ratelimit.ts";
// Long-video tagging: one coordinator per job, one index of jobs per owner.
export { JobCoordinator } from "./jobs/coordinator.ts";
export { JobIndex } from "./jobs/job-index.ts";
