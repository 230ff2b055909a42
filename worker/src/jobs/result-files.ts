// A job's results as downloadable files: GET /v1/jobs/:id/results.csv,
// /results.vtt and /timeline answer the same job as GET /v1/jobs/:id, rendered
// (render.ts, timeline.ts). A job still running renders what it has: clips so
// far, and segments once it has ended.
import type { Context } from "hono";
import type { AppEnv } from "../middleware.ts";
import { renderCsv, renderVtt } from "./render.ts";
import type { Job } from "./schema.ts";
import { renderTimeline } from "./timeline.ts";

export const RESULT_FORMATS = {
  csv: { render: renderCsv, type: "text/csv; charset=utf-8; header=present", file: "results.csv" },
  vtt: { render: renderVtt, type: "text/vtt; charset=utf-8", file: "results.vtt" },
  html: { render: renderTimeline, type: "text/html; charset=utf-8", file: "timeline.html" },
} as const;

export function resultFile(c: Context<AppEnv>, job: Job, format: keyof typeof RESULT_FORMATS): Response {
  const { render, type, file } = RESULT_FORMATS[format];
  const headers: Record<string, string> = { "Content-Type": type };
  if (format === "html") {
    // Labels come from models anyone may upload: the page may run nothing and fetch nothing.
    headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";
  } else {
    headers["Content-Disposition"] = `attachment; filename="${job.id}-${file}"`;
  }
  return c.body(render(job), 200, headers);
}
