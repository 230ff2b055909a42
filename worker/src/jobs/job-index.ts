// Each owner's jobs, newest first, for GET /v1/jobs: one Durable Object per
// owner (the API key id, "anonymous" when keys are off). The job's own
// coordinator writes here when the job is created and whenever its status
// changes, so a listing never has to visit every job.
import { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import type { Bindings } from "../middleware.ts";
import { JobStatusSchema } from "./schema.ts";

export const JobSummarySchema = z
  .object({
    id: z.string(),
    status: JobStatusSchema,
    createdAt: z.string(),
    updatedAt: z.string(),
    video: z.string().describe("the R2 key of the video"),
    clipsPerVideo: z.number().int().positive(),
  })
  .strict();
export type JobSummary = z.infer<typeof JobSummarySchema>;

export interface JobPage {
  jobs: JobSummary[];
  /** Pass as `cursor` for the next (older) page; absent on the last page. */
  cursor?: string;
}

export class JobIndex extends DurableObject<Bindings> {
  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    ctx.storage.sql.exec(
      `CREATE TABLE IF NOT EXISTS job (id TEXT PRIMARY KEY, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, status TEXT NOT NULL, video TEXT NOT NULL, clips INTEGER NOT NULL)`,
    );
  }

  /** Adds a job or updates its status; an ended job stays ended (a late "running" from a racing report cannot undo it). */
  put(job: JobSummary): void {
    this.ctx.storage.sql.exec(
      `INSERT INTO job (id, created_at, updated_at, status, video, clips) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at
       WHERE job.status NOT IN ('completed', 'partial', 'failed', 'cancelled')`,
      job.id,
      job.createdAt,
      job.updatedAt,
      job.status,
      job.video,
      job.clipsPerVideo,
    );
  }

  /** Up to `limit` jobs older than the `cursor` job (or the newest), newest first. */
  list(limit: number, cursor?: string): JobPage {
    const after = cursor === undefined ? undefined : this.ctx.storage.sql.exec<{ created_at: string }>(`SELECT created_at FROM job WHERE id = ?`, cursor).toArray()[0];
    if (cursor !== undefined && !after) return { jobs: [] };
    const rows = this.ctx.storage.sql
      .exec<{ id: string; created_at: string; updated_at: string; status: string; video: string; clips: number }>(
        after
          ? `SELECT * FROM job WHERE (created_at, id) < (?, ?) ORDER BY created_at DESC, id DESC LIMIT ?`
          : `SELECT * FROM job ORDER BY created_at DESC, id DESC LIMIT ?`,
        ...(after ? [after.created_at, cursor, limit + 1] : [limit + 1]),
      )
      .toArray();
    const jobs = rows.slice(0, limit).map((r) =>
      JobSummarySchema.parse({ id: r.id, status: r.status, createdAt: r.created_at, updatedAt: r.updated_at, video: r.video, clipsPerVideo: r.clips }),
    );
    return rows.length > limit ? { jobs, cursor: jobs.at(-1)!.id } : { jobs };
  }
}

export function jobIndexFor(env: Bindings, owner: string): DurableObjectStub<JobIndex> {
  return env.JOB_INDEX.get(env.JOB_INDEX.idFromName(owner));
}
