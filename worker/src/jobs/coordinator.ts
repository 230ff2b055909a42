// One Durable Object per job (JOB_COORDINATOR, named by the job id): it holds
// the plan, takes each clip's result exactly once, counts progress and
// finalises the job. A Durable Object runs one call at a time, so "is this clip
// still pending? then store it" cannot race: a message delivered twice, or two
// consumers holding the same batch, store a clip once and the later report is
// a counted no-op. Clips live in the object's SQLite table, one row each; the
// job's other fields in its key-value storage.
import { DurableObject } from "cloudflare:workers";
import type { Bindings } from "../middleware.ts";
import { segments, videoTags } from "./aggregate.ts";
import { jobIndexFor } from "./job-index.ts";
import { notifyWebhook, type WebhookOutcome, type WebhookTarget } from "./webhook.ts";
import { JobSchema, type ClipFailure, type ClipResult, type Job, type JobStatus, type PlannedClip } from "./schema.ts";

/** The job as stored: everything but the per-clip arrays (those are rows). */
export type JobHead = Omit<Job, "clips" | "failures">;

export interface JobInit {
  job: JobHead;
  clips: PlannedClip[];
  topk: number;
  webhook?: WebhookTarget;
}

/** Ends a job whose clips stop arriving: no report for this long (JOB_WATCHDOG_SECONDS overrides). */
export const WATCHDOG_SECONDS = 3600;

const TERMINAL: ReadonlySet<JobStatus> = new Set(["completed", "partial", "failed", "cancelled"]);
export const isTerminal = (status: JobStatus) => TERMINAL.has(status);

export interface PendingAnswer {
  /** False when the job is unknown, cancelled or finished: drop the message. */
  live: boolean;
  status?: JobStatus;
  /** The asked-for clips that still have no result. */
  pending: number[];
}

export interface ReportAnswer {
  /** Results and failures stored by this call. */
  stored: number;
  /** Clips that already had an outcome (a repeated delivery). */
  duplicates: number;
  status: JobStatus;
}

export interface ErrorNote {
  code: string;
  message: string;
}

interface ClipRow extends Record<string, SqlStorageValue> {
  id: number;
  start: number;
  end: number;
  state: string;
  result: string | null;
  failure: string | null;
  last_error: string | null;
}

export class JobCoordinator extends DurableObject<Bindings> {
  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    ctx.storage.sql.exec(
      `CREATE TABLE IF NOT EXISTS clip (
         id INTEGER PRIMARY KEY, start REAL NOT NULL, "end" REAL NOT NULL, plan TEXT NOT NULL,
         state TEXT NOT NULL DEFAULT 'pending', result TEXT, failure TEXT, last_error TEXT)`,
    );
  }

  private head(): JobHead | undefined {
    return this.ctx.storage.kv.get<JobHead>("job");
  }

  private watchdogMs(): number {
    return (Number(this.env.JOB_WATCHDOG_SECONDS) || WATCHDOG_SECONDS) * 1000;
  }

  /** Stores the plan; the job starts `queued`. Refuses a second create. */
  async create(init: JobInit): Promise<void> {
    if (this.head()) throw new Error(`job ${init.job.id} exists already`);
    this.ctx.storage.transactionSync(() => {
      for (const c of init.clips) {
        this.ctx.storage.sql.exec(`INSERT INTO clip (id, start, "end", plan) VALUES (?, ?, ?, ?)`, c.id, c.start, c.end, JSON.stringify(c));
      }
      this.ctx.storage.kv.put("job", init.job);
      this.ctx.storage.kv.put("topk", init.topk);
      if (init.webhook) this.ctx.storage.kv.put("webhook", init.webhook);
      this.ctx.storage.kv.put("duplicates", 0);
    });
    await this.ctx.storage.setAlarm(Date.now() + this.watchdogMs());
    await this.index(init.job);
  }

  /** Which of these clips still need a result, and whether the job still wants any. */
  pending(ids: number[]): PendingAnswer {
    const job = this.head();
    if (!job || isTerminal(job.status)) return { live: false, status: job?.status, pending: [] };
    const pending = ids.filter((id) => this.row(id)?.state === "pending");
    return { live: true, status: job.status, pending };
  }

  private row(id: number): ClipRow | undefined {
    return this.ctx.storage.sql.exec<ClipRow>(`SELECT id, start, "end", state, result, failure, last_error FROM clip WHERE id = ?`, id).toArray()[0];
  }

  /** Stores each clip's result or failure once; later reports for a clip are counted and dropped. */
  async report(results: ClipResult[], failures: ClipFailure[] = []): Promise<ReportAnswer> {
    const job = this.head();
    if (!job) throw new Error("report for a job that does not exist");
    if (isTerminal(job.status)) return { stored: 0, duplicates: results.length + failures.length, status: job.status };
    let stored = 0;
    let duplicates = 0;
    let done = 0;
    let failed = 0;
    this.ctx.storage.transactionSync(() => {
      for (const r of results) {
        const { rowsWritten } = this.ctx.storage.sql.exec(`UPDATE clip SET state = 'done', result = ? WHERE id = ? AND state = 'pending'`, JSON.stringify(r), r.id);
        if (rowsWritten > 0) done++;
        else duplicates++;
      }
      for (const f of failures) {
        const { rowsWritten } = this.ctx.storage.sql.exec(`UPDATE clip SET state = 'failed', failure = ? WHERE id = ? AND state = 'pending'`, JSON.stringify(f), f.id);
        if (rowsWritten > 0) failed++;
        else duplicates++;
      }
      stored = done + failed;
      if (duplicates > 0) this.ctx.storage.kv.put("duplicates", (this.ctx.storage.kv.get<number>("duplicates") ?? 0) + duplicates);
    });
    if (stored === 0) return { stored, duplicates, status: job.status };
    const now = new Date().toISOString();
    const next: JobHead = {
      ...job,
      status: "running",
      updatedAt: now,
      progress: { ...job.progress, done: job.progress.done + done, failed: job.progress.failed + failed },
    };
    this.ctx.storage.kv.put("job", next);
    if (next.progress.done + next.progress.failed === next.progress.total) return { stored, duplicates, status: await this.finalise() };
    await this.ctx.storage.setAlarm(Date.now() + this.watchdogMs());
    if (job.status !== "running") await this.index(next);
    return { stored, duplicates, status: next.status };
  }

  /** A consumer failed on these clips and will retry: the last error is kept for the failure record. */
  attemptFailed(ids: number[], error: ErrorNote): void {
    for (const id of ids) this.ctx.storage.sql.exec(`UPDATE clip SET last_error = ? WHERE id = ? AND state = 'pending'`, JSON.stringify(error), id);
  }

  /** The queue gave up on a batch (dead-letter queue): its pending clips fail with their last error. */
  async deadLettered(ids: number[], attempts: number): Promise<ReportAnswer> {
    const failures = ids.flatMap((id): ClipFailure[] => {
      const row = this.row(id);
      if (!row || row.state !== "pending") return [];
      const last = row.last_error ? (JSON.parse(row.last_error) as ErrorNote) : undefined;
      return [
        {
          id,
          start: row.start,
          end: row.end,
          code: last?.code ?? "dead_lettered",
          message: `gave up after ${attempts} attempts: ${last?.message ?? "the batch was dead-lettered without a recorded error"}`,
          attempts,
        },
      ];
    });
    return this.report([], failures);
  }

  /** Cancels a queued or running job; a finished job is left as it is. Answers the job's status after. */
  async cancel(): Promise<JobStatus | undefined> {
    const job = this.head();
    if (!job || isTerminal(job.status)) return job?.status;
    const now = new Date().toISOString();
    const next: JobHead = { ...job, status: "cancelled", updatedAt: now, finishedAt: now };
    await this.end(next);
    return next.status;
  }

  /** The job could not be started (its batches did not all reach the queue): it ends failed with this error. */
  async abort(error: ErrorNote): Promise<void> {
    const job = this.head();
    if (!job || isTerminal(job.status)) return;
    const now = new Date().toISOString();
    const next: JobHead = { ...job, status: "failed", updatedAt: now, finishedAt: now, error };
    await this.end(next);
  }

  /** The whole job (results sorted by clip id), or undefined when it does not exist or belongs to someone else. */
  job(owner: string): Job | undefined {
    const head = this.head();
    if (!head || head.owner !== owner) return undefined;
    return this.assemble(head);
  }

  /** Results stored and repeated reports dropped, for logs and tests. */
  stats(): { stored: number; duplicates: number } {
    const [{ n }] = this.ctx.storage.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM clip WHERE state != 'pending'`).toArray();
    return { stored: n, duplicates: this.ctx.storage.kv.get<number>("duplicates") ?? 0 };
  }

  /** The job ended: its webhook. Otherwise the watchdog: nothing arrived for WATCHDOG_SECONDS, so the clips still pending fail and the job ends. */
  override async alarm(): Promise<void> {
    const job = this.head();
    if (!job) return;
    if (isTerminal(job.status)) return this.callWebhook(job);
    const seconds = this.watchdogMs() / 1000;
    const failures = this.ctx.storage.sql
      .exec<ClipRow>(`SELECT id, start, "end", last_error FROM clip WHERE state = 'pending' ORDER BY id`)
      .toArray()
      .map((row): ClipFailure => {
        const last = row.last_error ? (JSON.parse(row.last_error) as ErrorNote) : undefined;
        const why = last ? `; its last error: ${last.message}` : "";
        return { id: row.id, start: row.start, end: row.end, code: "watchdog_timeout", message: `no result arrived within ${seconds} s of the job's last progress${why}`, attempts: 0 };
      });
    await this.report([], failures);
  }

  private rows<T>(state: string): T[] {
    return this.ctx.storage.sql
      .exec<{ v: string }>(`SELECT ${state === "done" ? "result" : "failure"} AS v FROM clip WHERE state = ? ORDER BY id`, state)
      .toArray()
      .map((r) => JSON.parse(r.v) as T);
  }

  private assemble(head: JobHead): Job {
    return JobSchema.parse({ ...head, clips: this.rows<ClipResult>("done"), failures: this.rows<ClipFailure>("failed") });
  }

  /** Every clip has an outcome: tags, segments, the final status. */
  private async finalise(): Promise<JobStatus> {
    const job = this.head()!;
    const clips = this.rows<ClipResult>("done");
    const failures = this.rows<ClipFailure>("failed");
    const now = new Date().toISOString();
    const status: JobStatus = failures.length === 0 ? "completed" : clips.length === 0 ? "failed" : "partial";
    const final: JobHead = {
      ...job,
      status,
      updatedAt: now,
      finishedAt: now,
      tags: videoTags(clips, job.labels, this.ctx.storage.kv.get<number>("topk") ?? job.labels.length),
      segments: segments(clips),
    };
    if (status === "failed") final.error = { code: failures[0].code, message: `every clip failed; clip ${failures[0].id}: ${failures[0].message}` };
    await this.end(final);
    return status;
  }

  /**
   * Stores the ended job and lists it; the webhook, if any, is called from the
   * alarm (set to now), not here: a report must not wait on the receiver, and
   * an alarm that throws is retried by the runtime even if this object restarts.
   */
  private async end(job: JobHead): Promise<void> {
    this.ctx.storage.kv.put("job", job);
    if (this.ctx.storage.kv.get("webhook")) await this.ctx.storage.setAlarm(Date.now());
    else await this.ctx.storage.deleteAlarm();
    await this.index(job);
  }

  /** The webhook's outcome once it has been called (undefined before, or without a webhook). */
  webhookOutcome(): WebhookOutcome | undefined {
    return this.ctx.storage.kv.get<WebhookOutcome>("webhookOutcome");
  }

  private async callWebhook(job: JobHead): Promise<void> {
    const target = this.ctx.storage.kv.get<WebhookTarget>("webhook");
    if (!target || this.webhookOutcome()) return;
    // notifyWebhook never throws; it retries the receiver itself with bounded backoff.
    const outcome = await notifyWebhook(job, target);
    this.ctx.storage.kv.put("webhookOutcome", outcome);
    console.log(JSON.stringify({ jobId: job.id, webhook: outcome }));
  }

  private async index(job: JobHead): Promise<void> {
    await jobIndexFor(this.env, job.owner).put({
      id: job.id,
      status: job.status,
      createdAt: job.createdAt,
      updatedAt: job.updatedAt,
      video: job.video.key,
      clipsPerVideo: job.clipsPerVideo,
    });
  }
}

export function coordinatorFor(env: Bindings, jobId: string): DurableObjectStub<JobCoordinator> {
  return env.JOB_COORDINATOR.get(env.JOB_COORDINATOR.idFromName(jobId));
}
