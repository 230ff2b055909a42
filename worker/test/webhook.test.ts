// The job webhook against a receiver at https://hooks.example.test/ (a Node
// stand-in behind miniflare's outboundService): the signature verifies with
// the secret and fails for a tampered body, another secret or a stale time;
// refused hosts are never contacted; failures are retried a bounded number
// of times; nothing throws.
import { describe, expect, it } from "vitest";
import { backoffDelay, notifyWebhook, signWebhook, verifyWebhookSignature } from "../src/jobs/webhook.ts";
import type { Delivery } from "./fixtures/webhook-receiver.ts";
import { handMadeJob } from "./fixtures/job.ts";

const HOOKS = "https://hooks.example.test";
const SECRET = "whsec_test_0123456789";
const fast = { baseDelayMs: 1, maxDelayMs: 5 };
let runs = 0;
const run = () => `run${++runs}-${crypto.randomUUID()}`;

async function deliveries(name: string): Promise<Delivery[]> {
  return (await (await fetch(`${HOOKS}/${name}/log`)).json()) as Delivery[];
}

describe("notifyWebhook", () => {
  it("POSTs the job's summary, signed; the receiver verifies it, and a tampered body fails", async () => {
    const name = run();
    const job = handMadeJob();
    const outcome = await notifyWebhook(job, { url: `${HOOKS}/${name}/ok`, secret: SECRET }, fast);
    expect(outcome).toEqual({ delivered: true, attempts: 1, status: 200 });
    const [delivery] = await deliveries(name);
    expect(delivery.headers["content-type"]).toBe("application/json");
    const body = JSON.parse(delivery.body);
    expect(body.type).toBe("job.partial");
    expect(body.job).toMatchObject({ id: job.id, status: "partial", tags: job.tags, segments: job.segments, progress: job.progress });
    expect(body.job).not.toHaveProperty("clips");

    const header = delivery.headers["edgevid-signature"];
    expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(await verifyWebhookSignature(delivery.body, header, SECRET)).toBe(true);
    expect(await verifyWebhookSignature(delivery.body.replace('"partial"', '"completed"'), header, SECRET)).toBe(false);
    expect(await verifyWebhookSignature(delivery.body, header, "another secret")).toBe(false);
    expect(await verifyWebhookSignature(delivery.body, header.replace(/v1=./, (m) => (m.endsWith("0") ? "v1=1" : "v1=0")), SECRET)).toBe(false);
    expect(await verifyWebhookSignature(delivery.body, null, SECRET)).toBe(false);
    // A replay long after the signature was made.
    expect(await verifyWebhookSignature(delivery.body, header, SECRET, { now: Date.now() / 1000 + 3600 })).toBe(false);
  });

  it("signs HMAC-SHA256 of \"t.body\" (a known vector), and any v1 of several may match", async () => {
    // openssl: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac key
    const header = await signWebhook('{"a":1}', "key", 1700000000);
    expect(header).toBe("t=1700000000,v1=a438e398bfafc57e4396bb7fc2304422f0f768e965d073ca313cb52e22e6ad03");
    const rotated = `t=1700000000,v1=${"0".repeat(64)},${header.split(",")[1]}`;
    expect(await verifyWebhookSignature('{"a":1}', rotated, "key", { now: 1700000100 })).toBe(true);
  });

  it("retries 5xx until it succeeds, and gives up after its bounded attempts", async () => {
    const flaky = run();
    expect(await notifyWebhook(handMadeJob(), { url: `${HOOKS}/${flaky}/fail-2`, secret: SECRET }, fast)).toEqual({ delivered: true, attempts: 3, status: 200 });
    const tries = await deliveries(flaky);
    expect(tries).toHaveLength(3);
    // Each attempt is signed afresh, over the same body.
    expect(new Set(tries.map((t) => t.body)).size).toBe(1);
    for (const t of tries) expect(await verifyWebhookSignature(t.body, t.headers["edgevid-signature"], SECRET)).toBe(true);

    const down = run();
    const outcome = await notifyWebhook(handMadeJob(), { url: `${HOOKS}/${down}/down`, secret: SECRET }, { ...fast, attempts: 3 });
    expect(outcome).toEqual({ delivered: false, attempts: 3, status: 500, error: "hooks.example.test answered HTTP 500" });
    expect(await deliveries(down)).toHaveLength(3);
  });

  it("does not retry a refusal (4xx) or follow a redirect", async () => {
    for (const [behaviour, status] of [["gone", 410], ["redirect", 302]] as const) {
      const name = run();
      expect(await notifyWebhook(handMadeJob(), { url: `${HOOKS}/${name}/${behaviour}`, secret: SECRET }, fast)).toMatchObject({ delivered: false, attempts: 1, status });
      expect(await deliveries(name)).toHaveLength(1);
    }
  });

  it.each([
    ["http://127.0.0.1/hook", "loopback"],
    ["http://169.254.169.254/latest/meta-data", "link-local"],
    ["http://10.0.0.7/hook", "private"],
    ["http://[::1]/hook", "loopback"],
    ["http://metadata/hook", "single-label"],
    ["ftp://hooks.example.test/x", "ftp"],
    ["not a url", "not a valid absolute URL"],
  ])("refuses %s without contacting it", async (url, why) => {
    let calls = 0;
    const outcome = await notifyWebhook(handMadeJob(), { url, secret: SECRET }, { ...fast, fetcher: async () => (calls++, new Response("no")) });
    expect(outcome).toMatchObject({ delivered: false, attempts: 0 });
    expect(outcome.error).toContain(why);
    expect(calls).toBe(0);
  });

  it("a fetch that throws is retried and reported, never thrown", async () => {
    let calls = 0;
    const fetcher = async (): Promise<Response> => {
      calls++;
      throw new TypeError("network down");
    };
    const outcome = await notifyWebhook(handMadeJob(), { url: `${HOOKS}/x/ok`, secret: SECRET }, { ...fast, attempts: 2, fetcher });
    expect(outcome).toEqual({ delivered: false, attempts: 2, error: "POST hooks.example.test failed: network down" });
    expect(calls).toBe(2);
  });

  it("backs off exponentially up to its cap", () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, 1000, 8000))).toEqual([1000, 2000, 4000, 8000, 8000, 8000]);
  });
});
