// The job routes:
//   POST   /v1/jobs       plan a video (its MP4 index only), store the plan in the job's Durable Object, queue the batches → 202
//   GET    /v1/jobs       the caller's jobs, newest first (one index object per owner)
//   GET    /v1/jobs/:id   status, progress, results
//   DELETE /v1/jobs/:id   cancel: consumers drop the job's pending batches
// A job belongs to the API key that made it ("anonymous" when keys are off);
// another key gets a 404, as if it did not exist. A video the planner cannot
// use (not MP4, corrupt index, unsupported codec, no keyframes) is refused
// synchronously with the indexer's 4xx: no job is made. Damage only the
// keyframes' bytes reveal is found by the consumers: those clips fail, and a
// job whose every clip failed ends `failed` with the decoder's error.
import type { Context } from "hono";
import { checkVideoAccess, ownerOf } from "../auth.ts";
import { describeIssues, serverError, userError } from "../errors.ts";
import type { AppEnv } from "../middleware.ts";
import { getModel } from "../models.ts";
import { checkUrl } from "../mp4/ssrf.ts";
import { sendAll } from "./batches.ts";
import { coordinatorFor, isTerminal, type JobHead } from "./coordinator.ts";
import { jobIndexFor } from "./job-index.ts";
import { planJob } from "./planner.ts";
import { CreateJobSchema, JobIdSchema, JobListQuerySchema } from "./requests.ts";
import { resultFile } from "./result-files.ts";
import type { Job } from "./schema.ts";

const ACCEPTED_CREATE =
  'a JSON body {"video": "<R2 key>", "clipsPerVideo": N, "model"?: "<id>", "version"?: "<version>", "topk"?: k, "webhook"?: {"url": "https://…", "secret"?: "…"}}';
const DEFAULT_TOPK = 5;

const randomHex = (bytes: number) => Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0")).join("");
const newJobId = () => `job_${randomHex(16)}`;
const newSecret = () => `whsec_${randomHex(24)}`;

async function parseCreate(c: Context<AppEnv>) {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch (error) {
    throw userError(400, "malformed_json", `the body is not JSON (${(error as Error).message})`, ACCEPTED_CREATE);
  }
  const parsed = CreateJobSchema.safeParse(body);
  if (!parsed.success) throw userError(400, "invalid_job", describeIssues(parsed.error.issues), ACCEPTED_CREATE);
  return parsed.data;
}

export async function createJob(c: Context<AppEnv>): Promise<Response> {
  const request = await parseCreate(c);
  checkVideoAccess(ownerOf(c), request.video);
  if (request.webhook) checkUrl(request.webhook.url, "webhook.url");
  const model = await getModel(c.env.MODELS, request.model, request.version);
  const { manifest } = model;
  const labels = manifest.labels.length;
  const topk = request.topk ?? Math.min(DEFAULT_TOPK, labels);
  if (topk > labels) throw userError(400, "topk_out_of_range", `topk is ${topk} but ${manifest.id}@${manifest.version} has ${labels} labels`, `topk: an integer from 1 to ${labels}`);

  const id = newJobId();
  const plan = await planJob({ jobId: id, bucket: c.env.VIDEOS, key: request.video, clipsPerVideo: request.clipsPerVideo, topk }, model);
  const now = new Date().toISOString();
  const head: JobHead = {
    id,
    status: "queued",
    createdAt: now,
    updatedAt: now,
    owner: ownerOf(c),
    video: plan.video,
    model: { id: manifest.id, version: manifest.version, sha256: manifest.model.sha256 },
    labels: manifest.labels,
    clipsPerVideo: request.clipsPerVideo,
    batches: plan.batches.length,
    progress: { done: 0, failed: 0, total: plan.clips.length },
    tags: [],
    segments: [],
    planning: plan.planning,
  };
  const job = coordinatorFor(c.env, id);
  // A webhook is always signed: without a secret from the caller, one is made and answered once.
  const webhook = request.webhook && { url: request.webhook.url, secret: request.webhook.secret ?? newSecret() };
  await job.create({ job: head, clips: plan.clips, topk, webhook });
  try {
    await sendAll(c.env.TAG_QUEUE, plan.batches);
  } catch (error) {
    // Batches already sent are dropped by their consumers once the job is failed.
    const message = `the job's batches could not be queued: ${(error as Error).message}`;
    await job.abort({ code: "queue_unavailable", message });
    throw serverError("queue_unavailable", message, 503);
  }
  const self = `/v1/jobs/${id}`;
  c.header("Location", self);
  const answer = { id, status: head.status, clips: plan.clips.length, batches: plan.batches.length, links: { self } };
  if (!webhook) return c.json(answer, 202);
  return c.json({ ...answer, webhook: request.webhook?.secret ? { url: webhook.url } : webhook }, 202);
}

function jobId(c: Context<AppEnv>): string {
  const text = c.req.param("id") ?? "";
  const parsed = JobIdSchema.safeParse(text);
  if (!parsed.success) throw userError(400, "invalid_job_id", `${JSON.stringify(text.slice(0, 80))} is not a job id`, "the id that POST /v1/jobs answered (job_ and 32 hex digits)");
  return parsed.data;
}

/** The caller's job; someone else's is "not found" too (ids are not secrets, but their jobs are not shown). */
async function ownedJob(c: Context<AppEnv>, id: string): Promise<Job> {
  const job = await coordinatorFor(c.env, id).job(ownerOf(c));
  if (!job) throw userError(404, "job_not_found", `no job ${id} for this API key`, "the id of a job made with this API key (GET /v1/jobs lists them)");
  return job;
}

export async function getJob(c: Context<AppEnv>): Promise<Response> {
  return c.json(await ownedJob(c, jobId(c)));
}

export async function cancelJob(c: Context<AppEnv>): Promise<Response> {
  const id = jobId(c);
  const before = await ownedJob(c, id);
  if (isTerminal(before.status) && before.status !== "cancelled") {
    throw userError(409, "job_finished", `job ${id} has already ended (${before.status})`, "a queued or running job");
  }
  await coordinatorFor(c.env, id).cancel();
  return c.json(await ownedJob(c, id));
}

export async function listJobs(c: Context<AppEnv>): Promise<Response> {
  const parsed = JobListQuerySchema.safeParse(c.req.query());
  if (!parsed.success) throw userError(400, "invalid_option", describeIssues(parsed.error.issues), "query: limit (1 to 100), cursor (from the previous page)");
  const { limit = 20, cursor } = parsed.data;
  return c.json(await jobIndexFor(c.env, ownerOf(c)).list(limit, cursor));
}

// The same job as files (result-files.ts): CSV, WebVTT, the timeline page.
export const getJobCsv = async (c: Context<AppEnv>) => resultFile(c, await ownedJob(c, jobId(c)), "csv");
export const getJobVtt = async (c: Context<AppEnv>) => resultFile(c, await ownedJob(c, jobId(c)), "vtt");
export const getJobTimeline = async (c: Context<AppEnv>) => resultFile(c, await ownedJob(c, jobId(c)), "html");
