// `npm run keys` against wrangler's local KV state in a temporary directory:
// the key is printed once, KV holds only its hash and the record, list shows
// it, revoke marks it, and mistakes are clear messages with exit code 1. Then
// the real Worker bundle (Miniflare, the same state) accepts a key the CLI made
// and, after `revoke --url`, refuses it.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiKeyRecordSchema, isWellFormedKey, storageKey } from "../worker/src/keys.ts";
import { bundleWorker, startBundledWorker } from "../worker/scripts/local-worker.ts";

const state = mkdtempSync(join(tmpdir(), "edgevid-keys-"));
afterAll(() => rmSync(state, { recursive: true, force: true }));

function keys(...args: string[]) {
  return keysWith({}, ...args);
}

function keysWith(env: Record<string, string>, ...args: string[]) {
  const r = spawnSync("npx", ["tsx", "worker/scripts/keys.ts", ...args, "--persist-to", state], { encoding: "utf8", env: { ...process.env, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function kvGet(name: string): string {
  const r = spawnSync("npx", ["wrangler", "kv", "key", "get", name, "--binding", "API_KEYS", "--local", "--persist-to", state], { encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

/** Every byte wrangler persisted, to prove the key itself is not among them. */
function persistedBytes(dir = state): string {
  return readdirSync(dir)
    .map((f) => join(dir, f))
    .map((p) => (statSync(p).isDirectory() ? persistedBytes(p) : readFileSync(p).toString("latin1")))
    .join("");
}

describe("npm run keys", { timeout: 120_000 }, () => {
  let key = "";
  let id = "";

  it("create prints a new key once and stores only its hash and record", async () => {
    const r = keys("create", "--name", "ci test", "--per-minute", "30", "--burst", "5");
    expect(r.status, r.stderr).toBe(0);
    key = /key \(shown once, store it now\): (\S+)/.exec(r.stdout)![1];
    id = /created (key_[0-9a-f]{16})/.exec(r.stdout)![1];
    expect(isWellFormedKey(key)).toBe(true);
    const record = ApiKeyRecordSchema.parse(JSON.parse(kvGet(await storageKey(key))));
    expect(record).toMatchObject({ id, name: "ci test", revoked: null, rateLimit: { perMinute: 30, burst: 5 } });
    const stored = persistedBytes();
    expect(stored).toContain(id); // the state is readable here, so the next line means something
    expect(stored).not.toContain(key);
  });

  it("list shows the key as active with its limit", () => {
    const r = keys("list");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`${id}  active  created \\S+  30/min burst 5  ci test`));
    expect(r.stdout).not.toContain(key);
  });

  it("revoke marks the record, and list says so", async () => {
    const r = keys("revoke", id);
    expect(r.status, r.stderr).toBe(0);
    const record = ApiKeyRecordSchema.parse(JSON.parse(kvGet(await storageKey(key))));
    expect(record.revoked).not.toBeNull();
    expect(keys("list").stdout).toContain(`${id}  revoked ${record.revoked}`);
  });

  it.each([
    [["create"], "create needs --name"],
    [["create", "--name", "x", "--burst", "3"], "--per-minute and --burst go together"],
    [["create", "--name", "x", "--per-minute", "0", "--burst", "3"], "--per-minute:"],
    [["revoke", "key_0000000000000000"], "no key with id key_0000000000000000"],
    [["rotate"], "unknown command"],
  ])("%j fails with a clear message", (args, message) => {
    const r = keys(...args);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(message);
  });
});

describe("keys made by the CLI in the real Worker", { timeout: 180_000 }, () => {
  const ADMIN_TOKEN = "cli-test-admin-token";
  let mf: Miniflare;
  let url = "";
  let key = "";
  let id = "";
  const models = async () => (await mf.dispatchFetch("http://worker/v1/models", { headers: { Authorization: `Bearer ${key}` } })).status;

  beforeAll(async () => {
    const dist = join(state, "dist");
    bundleWorker(dist);
    mf = startBundledWorker(dist, "index.js", { persistTo: state, vars: { ADMIN_TOKEN } });
    url = (await mf.ready).toString();
    const r = keys("create", "--name", "worker test");
    key = /key \(shown once, store it now\): (\S+)/.exec(r.stdout)![1];
    id = /created (key_[0-9a-f]{16})/.exec(r.stdout)![1];
  });
  afterAll(() => mf?.dispose());

  it("accepts the key the CLI wrote", async () => {
    expect(await models()).toBe(200);
  });

  it("revoke --url without ADMIN_TOKEN, or with a wrong one, fails and says so", () => {
    const none = keys("revoke", id, "--url", url);
    expect(none.status).toBe(1);
    expect(none.stderr).toContain("ADMIN_TOKEN environment variable");
    const wrong = keysWith({ ADMIN_TOKEN: "wrong" }, "revoke", id, "--url", url);
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toContain("answered 401");
  });

  it("revoke --url makes the Worker refuse the key", async () => {
    const r = keysWith({ ADMIN_TOKEN }, "revoke", id, "--url", url);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`refuses ${id} from now on`);
    expect(await models()).toBe(401);
  });
});
