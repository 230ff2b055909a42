// The job routes inside workerd: what POST /v1/jobs refuses, corrupt videos
// (refused at once when the index shows it, a `failed` job when only the
// keyframes do), the planner's reads on a long file, listings per API key,
// and the signed webhook when a job ends.
import { env, runDurableObjectAlarm } from "cloudflare:test";
import { beforeAll, describe, expect, it, inject } from "vitest";
import { SEND_BATCH_MESSAGES, type TagBatch } from "../src/jobs/batches.ts";
import { classifyBatch } from "../src/jobs/consumer.ts";
import { coordinatorFor } from "../src/jobs/coordinator.ts";
import { COALESCE_GAP } from "../src/mp4/keyframes.ts";
import { jobIndexFor, type JobSummary } from "../src/jobs/job-index.ts";
import { verifyWebhookSignature } from "../src/jobs/webhook.ts";
import type { Job } from "../src/jobs/schema.ts";
import { call, createJob, deliver, getJob, postJob, recordingQueue } from "./jobs-helpers.ts";
import { expectError } from "./helpers.ts";
import { bearer, issueKey } from "./keys.ts";

const videos = inject("videos");
const bytes = (name: string) => Uint8Array.from(atob(videos[name].base64), (c) => c.charCodeAt(0));

beforeAll(async () => {
  await env.VIDEOS.put("api/high.mp4", bytes("high_moov_end"));
  await env.VIDEOS.put("api/long.mp4", bytes("long_720p"));
  await env.VIDEOS.put("api/hevc.mp4", bytes("hevc"));
  await env.VIDEOS.put("api/text.mp4", new TextEncoder().encode("this is not a video at all, just text"));
  await env.VIDEOS.put("api/truncated.mp4", bytes("high_faststart").subarray(0, 20_000));
});

const listed = async (headers: HeadersInit = {}, overrides: Record<string, unknown> = {}, query = "") => {
  const res = await call(`/v1/jobs${query}`, { headers }, overrides);
  expect(res.status).toBe(200);
  return (await res.json()) as { jobs: { id: string; status: string; video: string }[]; cursor?: string };
};

describe("POST /v1/jobs refuses", () => {
  it("bad bodies, models, topk and webhook URLs with a 4xx that says what is accepted", async () => {
    const cases: [unknown, number, string][] = [
      [{ video: "api/high.mp4" }, 400, "invalid_job"],
      [{ video: "api/high.mp4", clipsPerVideo: 0 }, 400, "invalid_job"],
      [{ video: "api/high.mp4", clipsPerVideo: 100_000 }, 400, "invalid_job"],
      [{ video: "api/high.mp4", clipsPerVideo: 4, extra: 1 }, 400, "invalid_job"],
      [{ video: "api/high.mp4", clipsPerVideo: 4, topk: 99 }, 400, "topk_out_of_range"],
      [{ video: "api/high.mp4", clipsPerVideo: 4, model: "nope" }, 404, "unknown_model"],
      [{ video: "api/missing.mp4", clipsPerVideo: 4 }, 404, "r2_key_not_found"],
      [{ video: "api/high.mp4", clipsPerVideo: 4, webhook: { url: "http://127.0.0.1/hook" } }, 400, "url_host_refused"],
    ];
    for (const [body, status, code] of cases) await expectError(await postJob(body), status, code);
    await expectError(await call("/v1/jobs", { method: "POST", body: "{", headers: { "content-type": "application/json" } }), 400, "malformed_json");
    await expectError(await call("/v1/jobs/not-a-job"), 400, "invalid_job_id");
    await expectError(await call(`/v1/jobs/job_${"0".repeat(32)}`), 404, "job_not_found");
  });
});

describe("a queue that refuses the batches", () => {
  it("answers 503 and leaves the job `failed` with why (batches already sent are then dropped)", async () => {
    const queue = recordingQueue();
    const flaky = Object.assign(Object.create(queue) as typeof queue, {
      async sendBatch(messages: Iterable<MessageSendRequest<TagBatch>>) {
        if (queue.calls === 1) throw new Error("queue overloaded");
        return queue.sendBatch(messages);
      },
    });
    const res = await postJob({ video: "api/high.mp4", clipsPerVideo: 1000 }, { TAG_QUEUE: flaky });
    await expectError(res, 503, "queue_unavailable");
    expect(queue.sent).toHaveLength(SEND_BATCH_MESSAGES);
    const id = queue.sent[0].jobId;
    const job = await getJob(id);
    expect(job.status).toBe("failed");
    expect(job.error).toEqual({ code: "queue_unavailable", message: "the job's batches could not be queued: queue overloaded" });
    const { acked } = await deliver(queue.sent.slice(0, 2), 1);
    expect(acked).toHaveLength(2);
    expect((await getJob(id)).progress.done).toBe(0);
  });
});

describe("a corrupt video ends with a clear error", () => {
  it("is refused at once when its index shows it (not MP4, truncated, not H.264): no job is made", async () => {
    const before = (await listed()).jobs.length;
    const text = await expectError(await postJob({ video: "api/text.mp4", clipsPerVideo: 8 }), 415, "not_mp4");
    expect(text.error.message).toMatch(/api\/text\.mp4/);
    await expectError(await postJob({ video: "api/truncated.mp4", clipsPerVideo: 8 }), 422, "truncated_video");
    const hevc = await expectError(await postJob({ video: "api/hevc.mp4", clipsPerVideo: 8 }), 415, "unsupported_codec");
    expect(hevc.error.message).toMatch(/HEVC/);
    expect((await listed()).jobs.length).toBe(before);
  });

  it("ends the job `failed` with the decoder's error when its keyframes do not decode", async () => {
    // The index is intact; every keyframe's NAL units are overwritten after their length prefixes.
    const good = await createJob({ video: "api/high.mp4", clipsPerVideo: 8 });
    const damaged = bytes("high_moov_end");
    for (const s of good.batches.flatMap((b) => b.samples)) damaged.fill(0xff, s.offset + 4, s.offset + s.size);
    await env.VIDEOS.put("api/corrupt-keyframes.mp4", damaged);

    const { id, batches } = await createJob({ video: "api/corrupt-keyframes.mp4", clipsPerVideo: 8 });
    const { acked, retried } = await deliver(batches, 1);
    expect(retried).toEqual([]); // a bad video is not retried
    expect(acked).toHaveLength(batches.length);
    const job = await getJob(id);
    expect(job.status).toBe("failed");
    expect(job.error).toMatchObject({ code: "corrupt_video" });
    expect(job.error!.message).toMatch(/^every clip failed; clip 0: the keyframe at [0-9.]+ s could not be decoded/);
    expect(job.failures).toHaveLength(8);
    expect(job.failures.every((f) => f.code === "corrupt_video" && f.attempts === 1)).toBe(true);
    expect(job.progress).toEqual({ done: 0, failed: 8, total: 8 });
    expect(job.tags).toEqual([]);
  });
});

describe("the planner", () => {
  it("reads under 1% of a long file's bytes; batches point at keyframes only, and consumers read only those", async () => {
    const clips = 120;
    const { id, batches } = await createJob({ video: "api/long.mp4", clipsPerVideo: clips });
    const job = await getJob(id);
    const share = job.planning!.bytesRead / job.video.bytes;
    console.log(
      `planner on long_720p (${videos.long_720p.durationSeconds.toFixed(0)} s ${job.video.width}×${job.video.height}, ${job.video.bytes} bytes): ` +
        `read ${job.planning!.bytesRead} bytes in ${job.planning!.reads} reads = ${(share * 100).toFixed(3)}% of the file, ${job.planning!.ms} ms; ` +
        `${clips} clips in ${batches.length} batches`,
    );
    expect(share).toBeLessThan(0.01);
    expect(job.video).toMatchObject({ width: 1280, height: 720, codec: expect.stringMatching(/^avc1\./) });
    const keyframes = new Set(videos.long_720p.keyframeTimes.map((t) => t.toFixed(3)));
    const planned = batches.flatMap((b) => b.clips);
    expect(planned.map((c) => c.id)).toEqual(Array.from({ length: clips }, (_, i) => i));
    for (const b of batches) {
      for (const s of b.samples) expect(keyframes.has(s.pts.toFixed(3)), `${s.pts} is a keyframe`).toBe(true);
      const used = new Set(b.clips.flatMap((c) => c.samples));
      expect(b.samples.map((s) => s.index).sort((x, y) => x - y)).toEqual([...used].sort((x, y) => x - y));
    }
    // Clip k of N starts at k·(D − c)/(N − 1): the first at 0, the last ending at the end.
    expect(planned[0].start).toBe(0);
    expect(planned.at(-1)!.end).toBeCloseTo(job.video.durationSeconds, 6);

    // A consumer reads its clips' keyframes and nothing else (close ranges are read together: at most COALESCE_GAP between).
    for (const b of batches.slice(0, 5)) {
      const { results, bytesRead } = await classifyBatch(env, b, b.clips);
      expect(results.map((r) => r.id)).toEqual(b.clips.map((c) => c.id));
      const keyframeBytes = b.samples.reduce((n, s) => n + s.size, 0);
      expect(bytesRead).toBeGreaterThanOrEqual(keyframeBytes);
      expect(bytesRead).toBeLessThanOrEqual(keyframeBytes + (b.samples.length - 1) * COALESCE_GAP);
    }

    // The consumers, one invocation after another in this one isolate (a deployment runs many at once).
    const t0 = performance.now();
    await deliver(batches, 1);
    const seconds = (performance.now() - t0) / 1000;
    const done = await getJob(id);
    expect(done.status).toBe("completed");
    const decoded = new Set(batches.flatMap((b) => b.samples.map((s) => s.index))).size;
    console.log(`consumers on long_720p: ${clips} clips (${decoded} distinct keyframes) in ${seconds.toFixed(2)} s = ${(clips / seconds).toFixed(1)} clips/s in one workerd isolate`);
  });
});

describe("jobs belong to the API key that made them", () => {
  it("lists a key's jobs newest first, page by page, and hides them from other keys", async () => {
    const alice = await issueKey("alice");
    const bob = await issueKey("bob");
    const asDeployed = { REQUIRE_API_KEY: "true", TAG_QUEUE: recordingQueue() };
    const post = async (key: string) => {
      const res = await call("/v1/jobs", { method: "POST", body: JSON.stringify({ video: "api/high.mp4", clipsPerVideo: 4 }), headers: { ...bearer(key), "content-type": "application/json" } }, asDeployed);
      expect(res.status).toBe(202);
      expect(res.headers.get("location")).toMatch(/^\/v1\/jobs\/job_/);
      return ((await res.json()) as { id: string }).id;
    };
    const first = await post(alice.key);
    await new Promise((r) => setTimeout(r, 5)); // distinct creation times
    const second = await post(alice.key);
    const bobs = await post(bob.key);

    const page1 = await listed(bearer(alice.key), asDeployed, "?limit=1");
    expect(page1.jobs.map((j) => j.id)).toEqual([second]);
    expect(page1.cursor).toBe(second);
    const page2 = await listed(bearer(alice.key), asDeployed, `?limit=1&cursor=${page1.cursor}`);
    expect(page2.jobs.map((j) => j.id)).toEqual([first]);
    expect(page2.jobs[0]).toMatchObject({ status: "queued", video: "api/high.mp4" });
    expect(page2.cursor).toBeUndefined();
    expect((await listed(bearer(bob.key), asDeployed)).jobs.map((j) => j.id)).toEqual([bobs]);

    // Another key's job is "not found", to read and to cancel.
    await expectError(await call(`/v1/jobs/${first}`, { headers: bearer(bob.key) }, asDeployed), 404, "job_not_found");
    await expectError(await call(`/v1/jobs/${first}`, { method: "DELETE", headers: bearer(bob.key) }, asDeployed), 404, "job_not_found");
    const own = await call(`/v1/jobs/${first}`, { headers: bearer(alice.key) }, asDeployed);
    expect(((await own.json()) as Job).owner).toBe(alice.record.id);
    await expectError(await call("/v1/jobs?limit=0", { headers: bearer(alice.key) }, asDeployed), 400, "invalid_option");

    // Uploads are per key (videos/<key id>/…): Bob cannot tag Alice's.
    await env.VIDEOS.put(`videos/${alice.record.id}/mine.mp4`, bytes("high_moov_end"));
    const tag = (key: string) =>
      call("/v1/jobs", { method: "POST", body: JSON.stringify({ video: `videos/${alice.record.id}/mine.mp4`, clipsPerVideo: 2 }), headers: { ...bearer(key), "content-type": "application/json" } }, asDeployed);
    await expectError(await tag(bob.key), 404, "r2_key_not_found");
    expect((await tag(alice.key)).status).toBe(202);
    // And cannot classify them by key either.
    const classify = (key: string) =>
      call(`/v1/classify?r2Key=${encodeURIComponent(`videos/${alice.record.id}/mine.mp4`)}`, { method: "POST", headers: bearer(key) }, asDeployed);
    await expectError(await classify(bob.key), 404, "r2_key_not_found");
    expect((await classify(alice.key)).status).toBe(200);
  });

  it("the listing follows status changes, and an ended job stays ended there", async () => {
    const { id, batches } = await createJob({ video: "api/high.mp4", clipsPerVideo: 4 });
    await deliver(batches, 1);
    const entry = (await listed()).jobs.find((j) => j.id === id)!;
    expect(entry.status).toBe("completed");
    // A late update from a report that raced the final one does not undo it.
    const index = jobIndexFor(env, "anonymous");
    await index.put({ ...(entry as JobSummary), status: "running", updatedAt: new Date().toISOString() });
    expect((await listed()).jobs.find((j) => j.id === id)?.status).toBe("completed");
  });
});

describe("the webhook", () => {
  it("is called, signed, once the job ends (from the coordinator's alarm)", async () => {
    const run = `jobs-${Date.now()}`;
    const made = await createJob({ video: "api/high.mp4", clipsPerVideo: 4, webhook: { url: `https://hooks.example.test/${run}/ok` } });
    const answer = made.answer as { id: string; webhook: { url: string; secret: string } };
    expect(answer.webhook.secret).toMatch(/^whsec_[0-9a-f]{48}$/);
    const job = await getJob(answer.id);
    await deliver(made.batches, 1);
    expect((await getJob(job.id)).status).toBe("completed");

    // The coordinator's alarm, set for the moment the job ended, makes the call.
    const stub = coordinatorFor(env, job.id);
    for (let i = 0; i < 50 && (await stub.webhookOutcome()) === undefined; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await stub.webhookOutcome()).toEqual({ delivered: true, attempts: 1, status: 200 });
    const log = (await (await fetch(`https://hooks.example.test/${run}/log`)).json()) as { headers: Record<string, string>; body: string }[];
    expect(log).toHaveLength(1);
    const body = JSON.parse(log[0].body) as { type: string; job: Job };
    expect(body.type).toBe("job.completed");
    expect(body.job).toMatchObject({ id: job.id, status: "completed", progress: { done: 4, failed: 0, total: 4 } });
    expect(await verifyWebhookSignature(log[0].body, log[0].headers["edgevid-signature"], answer.webhook.secret)).toBe(true);
    // Called once: a later alarm does not call it again.
    await runDurableObjectAlarm(stub);
    expect((await (await fetch(`https://hooks.example.test/${run}/log`)).json()) as unknown[]).toHaveLength(1);
  });
});
