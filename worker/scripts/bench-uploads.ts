// Uploads and result files, measured locally: `npm run upload`'s client
// against the Worker bundle in workerd (Miniflare, R2 in local storage, no
// network: this measures the Worker's per-part work and the local R2, not a
// real connection), then the renderers on a job of many clips.
// Usage: npx tsx worker/scripts/bench-uploads.ts [MiB (default 256)] [clips (default 10000)]
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderCsv, renderVtt } from "../src/jobs/render.ts";
import type { ClipResult, Job } from "../src/jobs/schema.ts";
import { renderTimeline } from "../src/jobs/timeline.ts";
import { bundleWorker, startBundledWorker } from "./local-worker.ts";
import { uploadFile } from "./upload-client.ts";

const MIB = 1024 * 1024;
const mib = Number(process.argv[2] ?? 256);
const clipCount = Number(process.argv[3] ?? 10_000);
const dir = mkdtempSync(join(tmpdir(), "edgevid-bench-uploads-"));

try {
  // A real 10-minute H.264 file (its sample table is what completion indexes), padded with a "free" box to the size asked for.
  const small = join(dir, "small.mp4");
  const ff = spawnSync("ffmpeg", ["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=12", "-t", "600", "-c:v", "libx264", "-threads", "1", "-preset", "veryfast", "-crf", "40", "-g", "48", "-pix_fmt", "yuv420p", "-movflags", "+faststart", small]);
  if (ff.status !== 0) throw new Error(String(ff.stderr));
  const mp4 = readFileSync(small);
  const file = Buffer.alloc(Math.max(mib * MIB, mp4.length + 8));
  mp4.copy(file);
  file.writeUInt32BE(file.length - mp4.length, mp4.length);
  file.write("free", mp4.length + 4, "latin1");
  const path = join(dir, "video.mp4");
  writeFileSync(path, file);

  bundleWorker(join(dir, "dist"));
  const mf = startBundledWorker(join(dir, "dist"));
  const url = (await mf.ready).toString();
  for (const concurrency of [1, 3]) {
    let uploaded = 0;
    const start = performance.now();
    const result = await uploadFile(path, { url, name: `bench-${concurrency}.mp4`, concurrency, cacheDir: join(dir, "cache"), onProgress: (p) => p.partsDone === p.parts && (uploaded = performance.now()) });
    const end = performance.now();
    const seconds = (uploaded - start) / 1000;
    console.log(
      `upload ${(file.length / MIB).toFixed(0)} MiB in ${result.sentParts} parts of 8 MiB, ${concurrency} at a time: ${(file.length / MIB / seconds).toFixed(1)} MiB/s ` +
        `(${seconds.toFixed(2)} s); complete (assemble + index a ${result.video.durationSeconds.toFixed(0)} s video): ${(end - uploaded).toFixed(0)} ms`,
    );
  }
  await mf.dispose();

  // The renderers on a job of many clips (e.g. an hour at ~0.36 s per clip) over 400 labels (Kinetics-400's size).
  const labels = Array.from({ length: 400 }, (_, i) => `label_${i}`);
  const duration = 3600;
  const clips: ClipResult[] = Array.from({ length: clipCount }, (_, id) => {
    const scores = labels.map((_, i) => ((id * 7 + i * 13) % 101) / 101);
    const sum = scores.reduce((a, b) => a + b, 0);
    const probs = scores.map((s) => s / sum);
    const best = Math.floor(id / 50) % labels.length;
    probs[best] += 0.5;
    const start = (id * (duration - 2)) / clipCount;
    return { id, start, end: start + 2, keyframeTimes: [start], scores: probs, top: [{ label: labels[best], score: probs[best] }] };
  });
  const segments = Array.from({ length: Math.ceil(clipCount / 50) }, (_, s) => ({ start: clips[s * 50].start, end: clips[Math.min(clipCount, s * 50 + 50) - 1].end, label: labels[s % labels.length], score: 0.6, clips: 50 }));
  const job = {
    id: "job_bench", status: "completed", createdAt: "", updatedAt: "", owner: "anonymous",
    video: { key: "bench.mp4", bytes: 0, durationSeconds: duration, width: 1280, height: 720, codec: "avc1.64001f" },
    model: { id: "bench", version: "1", sha256: "" }, labels, clipsPerVideo: clipCount, batches: 0,
    progress: { done: clipCount, failed: 0, total: clipCount }, tags: segments.slice(0, 5).map((s) => ({ label: s.label, score: s.score })),
    segments, clips, failures: [],
  } satisfies Job;
  for (const [name, render] of [["CSV", renderCsv], ["WebVTT", renderVtt], ["timeline HTML", renderTimeline]] as const) {
    const start = performance.now();
    const text = render(job);
    console.log(`${name} of ${clipCount} clips, ${segments.length} segments, ${labels.length} labels: ${(text.length / MIB).toFixed(2)} MiB in ${(performance.now() - start).toFixed(0)} ms`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
