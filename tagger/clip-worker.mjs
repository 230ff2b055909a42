// Entry of a clip worker thread, in plain JavaScript: on Node 20 tsx's hooks
// from the main thread do not reach a worker, so it installs them itself
// (tsx's documented API), then module-rules.mjs, then loads the TypeScript.
const { register } = await import("tsx/esm/api");
register();
await import("./register.mjs");
await import("./clip-worker.ts");
