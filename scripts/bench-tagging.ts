// Long-video tagging, measured on a 60-minute 720p H.264 file made by ffmpeg
// (testsrc2, libx264 ultrafast, 25 fps, GOP 60, 300 kb/s; cached in
// .cache/bench-tagging/): planning (time, bytes and range reads: the MP4 index
// only), then clips per second end to end with `npm run tag` (1 and 2
// workers), then the same through the Worker's job API in local workerd
// (Miniflare: R2, Queues, Durable Objects).
// Usage: npm run bench:tagging [-- --clips 600]
// Wall-clock numbers on a shared machine: run it on an idle one to compare.
export {};
await import("../tagger/register.mjs");
const { spawnSync } = await import("node:child_process");
const { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync } = await import("node:fs");
const { cpus, loadavg, tmpdir } = await import("node:os");
const { join } = await import("node:path");
const { parseArgs } = await import("node:util");
const { readManifest } = await import("../tagger/node-model.ts");
const { planVideo } = await import("../tagger/tag.ts");
const { bundleWorker, startBundledWorker } = await import("../worker/scripts/local-worker.ts");
const { JobSchema } = await import("../worker/src/jobs/schema.ts");

const root = new URL("..", import.meta.url).pathname;
const { values } = parseArgs({ options: { clips: { type: "string", default: "600" }, model: { type: "string", default: "models/default" } } });
const clips = Number(values.clips);

const RECIPE = [
  "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25", "-t", "3600",
  "-c:v", "libx264", "-preset", "ultrafast", "-g", "60", "-b:v", "300k", "-pix_fmt", "yuv420p",
];

function hourVideo(): string {
  const dir = join(root, ".cache", "bench-tagging");
  const path = join(dir, "hour-720p-ultrafast-g60.mp4");
  if (existsSync(path)) return path;
  mkdirSync(dir, { recursive: true });
  process.stderr.write("making the 60-minute 720p video with ffmpeg (once; a few minutes on 2 cores)…\n");
  const partial = `${path}.partial.mp4`;
  const r = spawnSync("ffmpeg", ["-v", "error", "-y", ...RECIPE, partial], { stdio: ["ignore", "inherit", "inherit"] });
  if (r.status !== 0) throw new Error(`ffmpeg failed (exit ${r.status}${r.error ? `: ${r.error.message}` : ""})`);
  renameSync(partial, path);
  return path;
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

const video = hourVideo();
const manifest = await readManifest(join(root, values.model));
console.log(`machine: ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(1)).join(" ")}`);

// Planning: the CLI's own planner on the file (indexMp4 through positioned reads, planKeyframes, batches).
const planned = await planVideo({ path: video, name: "hour" }, manifest, clips);
const { planning, video: info } = planned;
console.log(`video: ${info.durationSeconds.toFixed(0)} s ${info.width}x${info.height} ${info.codec}, ${mb(info.bytes)} (${video})`);
console.log(
  `planning ${clips} clips: ${planning.ms.toFixed(0)} ms, ${(planning.bytesRead / 1024).toFixed(0)} KB read in ${planning.reads} range reads ` +
    `(${((100 * planning.bytesRead) / info.bytes).toFixed(3)}% of the file), ${planned.batches.length} batches`,
);
const keyframes = new Set(planned.batches.flatMap((b) => b.samples.map((s) => s.index))).size;
const keyframeBytes = planned.batches.reduce((n, b) => n + b.samples.reduce((m, s) => m + s.size, 0), 0);
console.log(`  the clips need ${keyframes} distinct keyframes, ${mb(keyframeBytes)} (${((100 * keyframeBytes) / info.bytes).toFixed(1)}% of the file)`);

// `npm run tag` end to end: process start to exit, planning and worker start-up included.
for (const workers of [1, 2]) {
  const out = mkdtempSync(join(tmpdir(), "edgevid-bench-tag-"));
  const t0 = performance.now();
  const r = spawnSync("npx", ["tsx", "tagger/cli.ts", video, "--clips", String(clips), "--workers", String(workers), "--no-progress", "--out", out], { cwd: root, encoding: "utf8" });
  const seconds = (performance.now() - t0) / 1000;
  rmSync(out, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`npm run tag failed:\n${r.stderr}`);
  const setting = /(\d+ workers? × \d+ threads?)/.exec(r.stderr)?.[1];
  console.log(`npm run tag, ${setting} (onnxruntime intra-op): ${clips} clips in ${seconds.toFixed(1)} s = ${(clips / seconds).toFixed(1)} clips/s end to end`);
}

// The Worker's job API end to end in local workerd: the bundle as `wrangler
// deploy` builds it, in Miniflare with R2, the queue (consumed by the Worker
// itself) and the Durable Objects. From POST /v1/jobs (planning included) to
// the job's last clip; one workerd process, so one core does the consumers' work.
const dist = mkdtempSync(join(tmpdir(), "edgevid-bench-worker-"));
bundleWorker(dist, root);
const mf = startBundledWorker(dist, "index.js", { quiet: true });
try {
  const key = "bench/hour-720p.mp4";
  await (await mf.getR2Bucket("VIDEOS")).put(key, new Uint8Array(readFileSync(video)).buffer);
  const t0 = performance.now();
  const res = await mf.dispatchFetch("http://edge.test/v1/jobs", {
    method: "POST",
    body: JSON.stringify({ video: key, clipsPerVideo: clips }),
    headers: { "content-type": "application/json" },
  });
  const created = (await res.json()) as { id: string; batches: number };
  if (res.status !== 202) throw new Error(`POST /v1/jobs answered ${res.status}: ${JSON.stringify(created)}`);
  const accepted = performance.now() - t0;
  const deadline = t0 + 30 * 60_000;
  let job;
  for (;;) {
    await new Promise((r) => setTimeout(r, 250));
    job = JobSchema.parse(await (await mf.dispatchFetch(`http://edge.test/v1/jobs/${created.id}`)).json());
    if (["completed", "partial", "failed", "cancelled"].includes(job.status)) break;
    if (performance.now() > deadline) throw new Error(`job ${created.id} still ${job.status} after 30 minutes: ${JSON.stringify(job.progress)}`);
  }
  const seconds = (performance.now() - t0) / 1000;
  const p = job.planning!;
  console.log(
    `Worker POST /v1/jobs (workerd, R2 range reads): 202 after ${accepted.toFixed(0)} ms; planning ${p.ms.toFixed(0)} ms, ` +
      `${(p.bytesRead / 1024).toFixed(0)} KB in ${p.reads} reads (${((100 * p.bytesRead) / job.video.bytes).toFixed(3)}% of the file), ${created.batches} queue messages`,
  );
  console.log(
    `Worker job end to end (queue consumers + Durable Object in one workerd): ${job.progress.done} of ${job.progress.total} clips ${job.status} ` +
      `in ${seconds.toFixed(1)} s = ${(job.progress.done / seconds).toFixed(1)} clips/s`,
  );
} finally {
  await mf.dispose();
  rmSync(dist, { recursive: true, force: true });
}
console.log(`(file: ${mb(statSync(video).size)}; load average after: ${loadavg().map((l) => l.toFixed(1)).join(" ")})`);
