// `npm run tag`: plan every video in the main thread (the MP4 index only, as
// the Worker's planner does), fan the batches out to the clip workers, and
// write each video's Job (JSON, CSV, WebVTT) as soon as its last batch is in.
import { randomUUID } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Manifest } from "../contract/manifest.ts";
import { type ClipFailure, type ClipResult, type Job, JobSchema } from "../worker/src/jobs/schema.ts";
import { segments, videoTags } from "../worker/src/jobs/aggregate.ts";
import { planClips, type ClipGroup } from "../worker/src/jobs/planner.ts";
import { renderCsv, renderVtt } from "../worker/src/jobs/render.ts";
import { renderTimeline } from "../worker/src/jobs/timeline.ts";
import { indexMp4 } from "../worker/src/mp4/index-mp4.ts";
import { MeteredSource } from "../worker/src/mp4/source.ts";
import { USAGE, parseTagArgs, type Format, type TagOptions } from "./args.ts";
import { openFileSource } from "./file-source.ts";
import { expandInputs, type VideoInput } from "./inputs.ts";
import { readManifest, TagError } from "./node-model.ts";
import { ClipPool, type BatchOutcome } from "./pool.ts";
import { Progress } from "./progress.ts";

/** What a video's job needs after planning; the index itself is dropped (an hour is ~10 MB). */
export interface PlannedVideo {
  input: VideoInput;
  video: Job["video"];
  avcC: Uint8Array;
  batches: ClipGroup[];
  planning: NonNullable<Job["planning"]>;
  createdAt: string;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** "path: problem", unless the message already names the file (the indexer's do). */
function problem(path: string, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.startsWith(path) ? message : `${path}: ${message}`;
}

/** Without --clips: clips back to back over the whole video, so the timeline has no gaps. */
export function tilingClips(durationSeconds: number, manifest: Manifest): number {
  return Math.max(1, Math.ceil(durationSeconds / manifest.sampling.clipDuration));
}

export async function planVideo(input: VideoInput, manifest: Manifest, clips: number | undefined): Promise<PlannedVideo> {
  const createdAt = new Date().toISOString();
  let file;
  try {
    file = await openFileSource(input.path);
  } catch (error) {
    throw new TagError(`${input.path}: cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  try {
    const t0 = performance.now();
    const source = new MeteredSource(file);
    const index = await indexMp4(source);
    const { video: track } = index;
    const { groups: batches } = planClips(index, manifest, clips ?? tilingClips(index.durationSeconds, manifest));
    const planning = { bytesRead: source.bytesRead, reads: source.reads, ms: Math.round((performance.now() - t0) * 10) / 10 };
    const video = { key: input.path, bytes: file.size, durationSeconds: index.durationSeconds, width: track.width, height: track.height, codec: track.codec };
    return { input, video, avcC: track.avcC, batches, planning, createdAt };
  } finally {
    await file.close();
  }
}

function buildJob(video: PlannedVideo, manifest: Manifest, outcomes: BatchOutcome[], topk: number): Job {
  const clips: ClipResult[] = [];
  const failures: ClipFailure[] = [];
  outcomes.forEach((outcome, b) => {
    if (outcome.ok) clips.push(...outcome.results);
    else for (const c of video.batches[b].clips) failures.push({ id: c.id, start: c.start, end: c.end, code: outcome.code, message: outcome.message, attempts: 1 });
  });
  clips.sort((a, b) => a.id - b.id);
  const now = new Date().toISOString();
  const total = clips.length + failures.length;
  return JobSchema.parse({
    id: randomUUID(),
    status: failures.length === 0 ? "completed" : clips.length > 0 ? "partial" : "failed",
    createdAt: video.createdAt,
    updatedAt: now,
    finishedAt: now,
    owner: "local",
    video: video.video,
    model: { id: manifest.id, version: manifest.version, sha256: manifest.model.sha256 },
    labels: manifest.labels,
    clipsPerVideo: total,
    batches: video.batches.length,
    progress: { done: clips.length, failed: failures.length, total },
    tags: videoTags(clips, manifest.labels, topk),
    segments: segments(clips),
    clips,
    failures,
    ...(clips.length === 0 ? { error: { code: failures[0].code, message: failures[0].message } } : {}),
    planning: video.planning,
  });
}

// The Worker's renderers (worker/src/jobs/render.ts, timeline.ts): the files match what its API serves.
const RENDERERS: Record<Format, (job: Job) => string> = {
  json: (job) => `${JSON.stringify(job, null, 2)}\n`,
  csv: renderCsv,
  vtt: renderVtt,
  html: renderTimeline,
};

async function writeOutputs(job: Job, out: string, name: string, formats: Format[]): Promise<void> {
  for (const format of formats) {
    const path = join(out, `${name}.${format}`);
    try {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, RENDERERS[format](job));
    } catch (error) {
      throw new TagError(`cannot write ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
  }
}

export async function tag(options: TagOptions, stderr: NodeJS.WriteStream = process.stderr): Promise<number> {
  const t0 = performance.now();
  const manifest = await readManifest(options.model);
  const { videos, problems } = await expandInputs(options.inputs);
  for (const p of problems) stderr.write(`error: ${p.path}: ${p.message}\n`);
  let refused = problems.length;
  let incomplete = 0;
  let unwritten = 0;
  let done = 0;

  const planned: PlannedVideo[] = [];
  for (const input of videos) {
    try {
      planned.push(await planVideo(input, manifest, options.clips));
    } catch (error) {
      refused++;
      stderr.write(`error: ${problem(input.path, error)}\n`);
    }
  }
  if (planned.length === 0) {
    stderr.write("nothing to tag\n");
    return 1;
  }

  const pool = await ClipPool.start(options.workers, { modelDir: options.model, threads: options.threads, topk: options.topk });
  const total = planned.reduce((n, v) => n + v.batches.reduce((m, b) => m + b.clips.length, 0), 0);
  const progress = new Progress(total, { stream: stderr, silent: !options.progress });
  try {
    await Promise.all(
      planned.map(async (video) => {
        const outcomes = await Promise.all(
          video.batches.map(async (batch) => {
            const outcome = await pool.run({ path: video.input.path, avcC: video.avcC, ...batch });
            if (outcome.ok) progress.add(batch.clips.length);
            else progress.add(0, batch.clips.length);
            return outcome;
          }),
        );
        const job = buildJob(video, manifest, outcomes, options.topk);
        if (job.status !== "completed") {
          incomplete++;
          const first = job.failures[0];
          progress.log(`error: ${problem(video.input.path, first.message)} (${job.failures.length} of ${job.progress.total} clips failed)`);
        }
        try {
          await writeOutputs(job, options.out, video.input.name, options.formats);
          if (job.status === "completed") done++;
        } catch (error) {
          if (!(error instanceof TagError)) throw error;
          unwritten++;
          progress.log(`error: ${video.input.path}: ${error.message}`);
        }
      }),
    );
  } finally {
    progress.finish();
    await pool.close();
  }
  const seconds = (performance.now() - t0) / 1000;
  const inputs = videos.length + problems.length;
  const why = [
    incomplete > 0 ? `${incomplete} with failed clips` : "",
    refused > 0 ? `${refused} refused` : "",
    unwritten > 0 ? `${unwritten} not written` : "",
  ].filter(Boolean).join(", ");
  stderr.write(
    `tagged ${done} of ${inputs} inputs${why ? ` (${why})` : ""}: ${total} clips in ${seconds.toFixed(1)} s ` +
      `(${(total / seconds).toFixed(2)} clips/s, ${plural(options.workers, "worker")} × ${plural(options.threads, "thread")}); outputs in ${options.out}\n`,
  );
  return refused + incomplete + unwritten > 0 ? 1 : 0;
}

export async function main(argv: string[]): Promise<number> {
  try {
    const options = parseTagArgs(argv);
    if (!options) {
      process.stdout.write(USAGE);
      return 0;
    }
    return await tag(options);
  } catch (error) {
    if (!(error instanceof TagError)) throw error;
    process.stderr.write(`error: ${error.message}\n${error.message.startsWith("no videos") ? USAGE : ""}`);
    return 2;
  }
}
