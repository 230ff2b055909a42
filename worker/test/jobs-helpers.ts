// Driving the job pipeline inside workerd: POST /v1/jobs through the app with
// a producer that records the batches it is given (so a test decides when and
// how often each is delivered), and deliveries of those batches to the
// Worker's real queue handler as real MessageBatch objects (cloudflare:test),
// up to 4 messages per invocation as wrangler.toml's max_batch_size.
import { createExecutionContext, createMessageBatch, env, getQueueResult, waitOnExecutionContext } from "cloudflare:test";
import { expect } from "vitest";
import worker, { app } from "../src/index.ts";
import type { TagBatch } from "../src/jobs/batches.ts";
import type { Job } from "../src/jobs/schema.ts";
import { BASE } from "./helpers.ts";

export const BATCH_QUEUE = "edgevid-tag-batches";
export const DLQ = "edgevid-tag-dlq";
const MAX_BATCH_SIZE = 4;

export type TestEnv = typeof env & Record<string, unknown>;

/** A Queue producer that keeps what it is sent. */
export function recordingQueue(): Queue<TagBatch> & { sent: TagBatch[]; calls: number } {
  const q = {
    sent: [] as TagBatch[],
    calls: 0,
    async send(body: TagBatch) {
      q.calls++;
      q.sent.push(body);
    },
    async sendBatch(messages: Iterable<MessageSendRequest<TagBatch>>) {
      q.calls++;
      for (const m of messages) q.sent.push(m.body);
    },
  };
  return q as unknown as Queue<TagBatch> & { sent: TagBatch[]; calls: number };
}

/** The app with the test's real bindings, plus overrides. */
export async function call(path: string, init: RequestInit = {}, overrides: Record<string, unknown> = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`${BASE}${path}`, init), { ...env, ...overrides } as typeof env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

export const postJob = (body: unknown, overrides: Record<string, unknown> = {}) =>
  call("/v1/jobs", { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } }, overrides);

/** POST /v1/jobs with a recording queue: the job's id and its batches (not yet delivered). */
export async function createJob(body: unknown): Promise<{ id: string; batches: TagBatch[]; sendCalls: number; answer: Record<string, unknown> }> {
  const queue = recordingQueue();
  const res = await postJob(body, { TAG_QUEUE: queue });
  expect(res.status, await res.clone().text()).toBe(202);
  const answer = (await res.json()) as { id: string; batches: number };
  expect(queue.sent).toHaveLength(answer.batches);
  return { id: answer.id, batches: queue.sent, sendCalls: queue.calls, answer };
}

export async function getJob(id: string): Promise<Job> {
  const res = await call(`/v1/jobs/${id}`);
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as Job;
}

export interface Delivery {
  acked: TagBatch[];
  retried: { body: TagBatch; delaySeconds?: number }[];
}

/**
 * Delivers the bodies to the Worker's queue handler, MAX_BATCH_SIZE per
 * invocation, invocations one after another; `attempts` is each message's
 * delivery count as the queue would set it.
 */
export async function deliver(bodies: TagBatch[], attempts: number, vars: Record<string, string> = {}, queueName = BATCH_QUEUE): Promise<Delivery> {
  const out: Delivery = { acked: [], retried: [] };
  for (let i = 0; i < bodies.length; i += MAX_BATCH_SIZE) {
    const chunk = bodies.slice(i, i + MAX_BATCH_SIZE);
    const messages = chunk.map((body, j) => ({ id: `${body.jobId}-${body.batch}-${attempts}-${i + j}`, timestamp: new Date(), attempts, body }));
    const batch = createMessageBatch<TagBatch>(queueName, messages);
    // getQueueResult keeps only which messages were retried: note the delay asked for on the way.
    const delays = new Map<string, number | undefined>();
    for (const m of batch.messages) {
      const retry = m.retry.bind(m);
      m.retry = (options) => {
        delays.set(m.id, options?.delaySeconds);
        retry(options);
      };
    }
    const ctx = createExecutionContext();
    await worker.queue(batch as MessageBatch<unknown>, { ...env, ...vars } as typeof env);
    const result = await getQueueResult(batch, ctx);
    const byId = new Map(messages.map((m) => [m.id, m.body]));
    for (const id of result.explicitAcks) out.acked.push(byId.get(id)!);
    for (const r of result.retryMessages) out.retried.push({ body: byId.get(r.msgId)!, delaySeconds: delays.get(r.msgId) });
    // Every message is either acked or retried, never left to the batch's default.
    expect(result.explicitAcks.length + result.retryMessages.length).toBe(chunk.length);
  }
  return out;
}
