// The bindings the tests reach through `env` (wrangler.toml's R2 bucket).
declare namespace Cloudflare {
  interface Env {
    MODELS: R2Bucket;
  }
}
