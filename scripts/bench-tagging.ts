// Long-video tagging, measured on a 60-minute 720p H.264 file made by ffmpeg
// (testsrc2, libx264 ultrafast, 25 fps, GOP 60, 300 kb/s; cached in
// .cache/bench-tagging/): planning (time, bytes and range reads: the MP4 index
// only), then clips per second end to end with `npm run tag` (1 and 2
// workers), then the same through the Worker's job API in local workerd.
// Usage: npm run bench:tagging [-- --clips 600]
// Wall-clock numbers on a shared machine: run it on an idle one to compare.
export {};
await import("../tagger/register.mjs");
const { spawnSync } = await import("node:child_process");
const { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync } = await import("node:fs");
const { cpus, loadavg, tmpdir } = await import("node:os");
const { join } = await import("node:path");
const { parseArgs } = await import("node:util");
const { readManifest } = await import("../tagger/node-model.ts");
const { planVideo } = await import("../tagger/tag.ts");

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
  const threads = /workers × (\d+) threads/.exec(r.stderr)?.[1];
  console.log(`npm run tag, ${workers} worker${workers > 1 ? "s" : ""} × ${threads} onnxruntime thread(s): ${clips} clips in ${seconds.toFixed(1)} s = ${(clips / seconds).toFixed(1)} clips/s end to end`);
}
console.log(`(file: ${mb(statSync(video).size)}; load average after: ${loadavg().map((l) => l.toFixed(1)).join(" ")})`);
