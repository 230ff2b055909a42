// Long-video tagging inside workerd with miniflare's R2, Durable Objects and
// Queues (wrangler.toml): a job's batches delivered to the Worker's real queue
// handler twice over while a fifth of them throw; cancellation; the dead-letter
// queue and the watchdog ending a job `partial`; the real queue end to end.
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it, inject } from "vitest";
import bundledManifest from "../../models/default/manifest.json";
import { BATCH_BUDGET, type TagBatch } from "../src/jobs/batches.ts";
import { BACKOFF, MAX_ATTEMPTS } from "../src/jobs/consumer.ts";
import { coordinatorFor } from "../src/jobs/coordinator.ts";
import { JobSchema, type Job } from "../src/jobs/schema.ts";
import { call, createJob, deliver, DLQ, getJob } from "./jobs-helpers.ts";

const videos = inject("videos");
const bytes = (name: string) => Uint8Array.from(atob(videos[name].base64), (c) => c.charCodeAt(0));
const LABELS = bundledManifest.labels;
const CLIPS = 64;

beforeAll(async () => {
  await env.VIDEOS.put("jobs/high.mp4", bytes("high_moov_end"));
});

const stats = (id: string) => coordinatorFor(env, id).stats();

/** Delivers every batch twice at once, then each retried one again (twice) with attempts + 1, until none is retried. */
async function runToEnd(batches: TagBatch[], vars: Record<string, string>) {
  let pending = batches;
  const retriedBatches: number[][] = [];
  for (let attempts = 1; pending.length > 0; attempts++) {
    expect(attempts).toBeLessThanOrEqual(MAX_ATTEMPTS);
    const [a, b] = await Promise.all([deliver(pending, attempts, vars), deliver(pending, attempts, vars)]);
    const retried = [...a.retried, ...b.retried];
    retriedBatches.push([...new Set(retried.map((r) => r.body.batch))].sort((x, y) => x - y));
    for (const r of retried) expect(r.delaySeconds).toBe(BACKOFF.baseSeconds * 2 ** (attempts - 1));
    pending = [...new Map(retried.map((r) => [r.body.batch, r.body])).values()];
  }
  return retriedBatches;
}

function expectExactlyOnce(job: Job, total: number): void {
  JobSchema.parse(job);
  expect(job.progress).toEqual({ done: total, failed: 0, total });
  expect(job.clips.map((c) => c.id)).toEqual(Array.from({ length: total }, (_, i) => i));
  expect(job.failures).toEqual([]);
}

describe("a 64-clip job, every batch delivered twice, a fifth of them throwing once", () => {
  let clean: Job;
  let faulty: Job;
  let retried: number[][];
  let batchCount: number;
  let duplicates: number;
  let faultyBatches: TagBatch[];

  beforeAll(async () => {
    // The same job twice: once delivered plainly, once with faults and duplicates.
    const a = await createJob({ video: "jobs/high.mp4", clipsPerVideo: CLIPS, topk: 3 });
    await deliver(a.batches, 1);
    clean = await getJob(a.id);

    const b = await createJob({ video: "jobs/high.mp4", clipsPerVideo: CLIPS, topk: 3 });
    batchCount = b.batches.length;
    faultyBatches = b.batches;
    retried = await runToEnd(b.batches, { FAULT_INJECTION: "throw:1/5" });
    faulty = await getJob(b.id);
    duplicates = (await stats(b.id)).duplicates;
  }, 120_000);

  it("plans 64 clips in batches within the consumer's budget", () => {
    expect(clean.progress.total).toBe(CLIPS);
    expect(batchCount).toBe(clean.batches);
    expect(batchCount).toBeGreaterThanOrEqual(Math.ceil(CLIPS / Math.floor(BATCH_BUDGET.cpuMs / BATCH_BUDGET.modelRunMs)));
    expect(clean.planning!.bytesRead).toBeGreaterThan(0);
  });

  it("retries exactly the faulty fifth once, with backoff, and completes", () => {
    const faulted = Array.from({ length: batchCount }, (_, b) => b).filter((b) => b % 5 === 0);
    expect(retried).toEqual([faulted, []].slice(0, retried.length));
    expect(retried[0].length / batchCount).toBeGreaterThanOrEqual(0.2);
    expect(faulty.status).toBe("completed");
  });

  it("counts every clip exactly once although each was classified and reported twice", () => {
    expectExactlyOnce(clean, CLIPS);
    expectExactlyOnce(faulty, CLIPS);
    // Both deliveries of a batch classified it; the coordinator stored one report per clip.
    expect(duplicates).toBeGreaterThan(0);
    expect(faulty.clips).toEqual(clean.clips);
  });

  it("finalises: tags are the top-k of the clips' mean softmax, segments merge runs of one top label", () => {
    for (const clip of faulty.clips) {
      expect(clip.scores).toHaveLength(LABELS.length);
      expect(clip.scores.reduce((s, p) => s + p, 0)).toBeCloseTo(1, 9);
      expect(clip.top).toHaveLength(3);
      expect(clip.top[0].score).toBe(Math.max(...clip.scores));
      expect(clip.keyframeTimes).toHaveLength(bundledManifest.sampling.frames);
    }
    const mean = LABELS.map((_, i) => faulty.clips.reduce((s, c) => s + c.scores[i], 0) / CLIPS);
    expect(faulty.tags.map((t) => t.label)).toEqual(
      LABELS.map((label, i) => ({ label, p: mean[i] }))
        .sort((x, y) => y.p - x.p)
        .slice(0, 3)
        .map((t) => t.label),
    );
    faulty.tags.forEach((t) => expect(t.score).toBeCloseTo(mean[LABELS.indexOf(t.label)], 12));
    expect(faulty.segments.reduce((n, s) => n + s.clips, 0)).toBe(CLIPS);
    let next = 0;
    for (const [i, s] of faulty.segments.entries()) {
      const members = faulty.clips.slice(next, next + s.clips);
      next += s.clips;
      expect(members.every((c) => c.top[0].label === s.label)).toBe(true);
      if (i > 0) expect(faulty.segments[i - 1].label).not.toBe(s.label);
      expect(s.start).toBe(members[0].start);
      expect(s.end).toBe(members.at(-1)!.end);
      expect(s.score).toBeCloseTo(members.reduce((sum, c) => sum + c.top[0].score, 0) / members.length, 12);
    }
    expect(faulty.finishedAt).toBeDefined();
  });

  it("drops a third delivery after the job has finished", async () => {
    const { id } = faulty;
    const before = await stats(id);
    const again = await deliver(faultyBatches, 1);
    expect(again.retried).toEqual([]);
    expect(await stats(id)).toEqual(before);
  });
});

describe("cancellation", () => {
  it("ends the job `cancelled`: later batches are dropped, stored results stay", async () => {
    const { id, batches } = await createJob({ video: "jobs/high.mp4", clipsPerVideo: CLIPS });
    expect((await getJob(id)).status).toBe("queued");
    await deliver(batches.slice(0, 2), 1);
    const running = await getJob(id);
    expect(running.status).toBe("running");
    const done = running.progress.done;
    expect(done).toBe(batches[0].clips.length + batches[1].clips.length);

    const res = await call(`/v1/jobs/${id}`, { method: "DELETE" });
    expect(res.status).toBe(200);
    const cancelled = (await res.json()) as Job;
    expect(cancelled.status).toBe("cancelled");

    const rest = await deliver(batches.slice(2), 1);
    expect(rest.acked).toHaveLength(batches.length - 2);
    const after = await getJob(id);
    expect(after.status).toBe("cancelled");
    expect(after.progress.done).toBe(done);
    expect(after.clips).toHaveLength(done);
    expect((await stats(id)).stored).toBe(done);
    // Cancelling again answers the same; an ended job cannot be cancelled.
    expect((await call(`/v1/jobs/${id}`, { method: "DELETE" })).status).toBe(200);
    const other = await createJob({ video: "jobs/high.mp4", clipsPerVideo: 2 });
    await deliver(other.batches, 1);
    const finished = await call(`/v1/jobs/${other.id}`, { method: "DELETE" });
    expect(finished.status).toBe(409);
    expect(((await finished.json()) as { error: { code: string } }).error.code).toBe("job_finished");
  });
});

describe("batches that never succeed", () => {
  it("go to the dead-letter queue after max_retries; its consumer fails their clips and the job ends `partial`", async () => {
    const { id, batches } = await createJob({ video: "jobs/high.mp4", clipsPerVideo: 12 });
    expect(batches.length).toBeGreaterThan(1);
    const vars = { FAULT_INJECTION: "throw-always:1/1000" }; // batch 0 only
    let pending = batches;
    for (let attempts = 1; attempts <= MAX_ATTEMPTS; attempts++) {
      const { retried } = await deliver(pending, attempts, vars);
      pending = retried.map((r) => r.body);
      expect(pending.map((b) => b.batch)).toEqual([0]);
    }
    expect((await getJob(id)).status).toBe("running");
    // The queue now moves batch 0 to the dead-letter queue.
    const dead = await deliver(pending, 1, {}, DLQ);
    expect(dead.acked).toHaveLength(1);
    const job = await getJob(id);
    expect(job.status).toBe("partial");
    const lost = batches[0].clips.map((c) => c.id);
    expect(job.failures.map((f) => f.id)).toEqual(lost);
    for (const f of job.failures) {
      expect(f).toMatchObject({ code: "consumer_error", attempts: MAX_ATTEMPTS });
      expect(f.message).toMatch(/gave up after 6 attempts: injected fault/);
    }
    expect(job.progress).toEqual({ done: 12 - lost.length, failed: lost.length, total: 12 });
    expect(job.clips.map((c) => c.id)).toEqual(Array.from({ length: 12 }, (_, i) => i).filter((i) => !lost.includes(i)));
    expect(job.segments.reduce((n, s) => n + s.clips, 0)).toBe(job.clips.length);
  });

  it("a job nothing arrives for is ended `partial` by its watchdog alarm", async () => {
    const { id, batches } = await createJob({ video: "jobs/high.mp4", clipsPerVideo: 12 });
    await deliver(batches.slice(0, 1), 1);
    const stub = coordinatorFor(env, id);
    const alarm = await runInDurableObject(stub, (_, state) => state.storage.getAlarm());
    expect(alarm).toBeGreaterThan(Date.now() + 3500 * 1000);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const job = await getJob(id);
    expect(job.status).toBe("partial");
    expect(job.progress.done).toBe(batches[0].clips.length);
    expect(job.failures).toHaveLength(12 - batches[0].clips.length);
    expect(job.failures[0]).toMatchObject({ code: "watchdog_timeout", attempts: 0 });
    expect(job.failures[0].message).toMatch(/no result arrived within 3600 s/);
  });
});

describe("the real queue (wrangler.toml's producer and consumer)", () => {
  it("delivers a job's batches to the Worker's queue handler", async () => {
    const res = await call("/v1/jobs", { method: "POST", body: JSON.stringify({ video: "jobs/high.mp4", clipsPerVideo: 6 }), headers: { "content-type": "application/json" } });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    let job = await getJob(id);
    for (let i = 0; i < 100 && job.status !== "completed"; i++) {
      await new Promise((r) => setTimeout(r, 200));
      job = await getJob(id);
    }
    expectExactlyOnce(job, 6);
    expect(job.status).toBe("completed");
  });
});
