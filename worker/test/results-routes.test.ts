// A real job's results as files, through the app: a job run on a fixture video
// (its batches delivered to the Worker's real queue handler), then
// GET /v1/jobs/:id/results.csv, /results.vtt and /timeline answer exactly what
// the renderers make of GET /v1/jobs/:id, with their types; another key's job
// is not found.
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { renderCsv, renderVtt } from "../src/jobs/render.ts";
import { renderTimeline } from "../src/jobs/timeline.ts";
import type { Job } from "../src/jobs/schema.ts";
import { videoBytes } from "./fixtures/videos.ts";
import { expectError } from "./helpers.ts";
import { call, createJob, deliver, getJob } from "./jobs-helpers.ts";
import { bearer, issueKey } from "./keys.ts";

let job: Job;
beforeAll(async () => {
  await env.VIDEOS.put("results/high.mp4", videoBytes("high_moov_end"));
  const { id, batches } = await createJob({ video: "results/high.mp4", clipsPerVideo: 6, topk: 3 });
  await deliver(batches, 1);
  job = await getJob(id);
  expect(job.status).toBe("completed");
});

describe("GET /v1/jobs/:id/results.csv, results.vtt, timeline", () => {
  it("answer the job as CSV, WebVTT and HTML, exactly as rendered from its JSON", async () => {
    const csv = await call(`/v1/jobs/${job.id}/results.csv`);
    expect(csv.status).toBe(200);
    expect(csv.headers.get("content-type")).toBe("text/csv; charset=utf-8; header=present");
    expect(csv.headers.get("content-disposition")).toBe(`attachment; filename="${job.id}-results.csv"`);
    const text = await csv.text();
    expect(text).toBe(renderCsv(job));
    expect(text.trimEnd().split("\r\n")).toHaveLength(1 + 6);

    const vtt = await call(`/v1/jobs/${job.id}/results.vtt`);
    expect(vtt.headers.get("content-type")).toBe("text/vtt; charset=utf-8");
    const track = await vtt.text();
    expect(track).toBe(renderVtt(job));
    expect(track.match(/-->/g)).toHaveLength(job.segments.length);

    const page = await call(`/v1/jobs/${job.id}/timeline`);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    const html = await page.text();
    expect(html).toBe(renderTimeline(job));
    expect(html.match(/<rect class="segment"/g)).toHaveLength(job.segments.length);
  });

  it("another key's job is not found; a bad id is a 400", async () => {
    const other = await issueKey("results-other");
    for (const path of ["results.csv", "results.vtt", "timeline"]) {
      await expectError(await call(`/v1/jobs/${job.id}/${path}`, { headers: bearer(other.key) }, { REQUIRE_API_KEY: "true" }), 404, "job_not_found");
      await expectError(await call(`/v1/jobs/nope/${path}`), 400, "invalid_job_id");
    }
    const post = await call(`/v1/jobs/${job.id}/timeline`, { method: "POST" });
    expect({ status: post.status, allow: post.headers.get("allow") }).toEqual({ status: 405, allow: "GET" });
  });
});
