// The bindings the tests reach through `env` (wrangler.toml's R2 bucket, KV, Durable Object).
declare namespace Cloudflare {
  interface Env {
    MODELS: R2Bucket;
    VIDEOS: R2Bucket;
    API_KEYS: KVNamespace;
    RATE_LIMITER: DurableObjectNamespace<import("../src/ratelimit.ts").RateLimiter>;
    REQUIRE_API_KEY: string;
    JOB_COORDINATOR: DurableObjectNamespace<import("../src/jobs/coordinator.ts").JobCoordinator>;
    JOB_INDEX: DurableObjectNamespace<import("../src/jobs/job-index.ts").JobIndex>;
    TAG_QUEUE: Queue<import("../src/jobs/batches.ts").TagBatch>;
  }
}
// inject("videos"): typed by the ProvidedContext augmentation in fixtures/videos.global.ts.
