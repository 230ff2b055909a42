// Per-keyframe H.264 decode time in workerd (Miniflare, no V8 inspector):
// FFmpeg's decoder in wasm (worker/decoder/), on libx264 High-profile videos that
// Debian's ffmpeg makes (testsrc2 with light noise; cached in .cache/decoder/bench).
// A request decodes one keyframe REPS times; the time of a request that decodes
// nothing is subtracted, so the numbers are decode time alone. Wall time means
// little on a busy machine, so the workerd process's CPU time (Linux /proc) over
// all the decodes is printed too.
// Usage: npx tsx worker/scripts/bench-decode.ts [REPS] [WIDTHxHEIGHT ...]   (default 20 320x240 1280x720)
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { bundleWorker, startBundledWorker } from "./local-worker.ts";

const [repsArg = "20", ...sizesArg] = process.argv.slice(2);
const reps = Number(repsArg);
const sizes = sizesArg.length > 0 ? sizesArg : ["320x240", "1280x720"];
if (!(reps >= 1) || !sizes.every((s) => /^\d+x\d+$/.test(s))) {
  console.error("usage: bench-decode.ts [REPS] [WIDTHxHEIGHT ...]");
  process.exit(2);
}

const dir = resolve(".cache/decoder/bench"); // absolute: wrangler reads --outdir relative to --config
mkdirSync(dir, { recursive: true });

/** 4 s at 25 fps, a keyframe every 12 frames (9 keyframes), B-frames, CRF 23. */
function video(size: string): string {
  const path = join(dir, `high-${size}.mp4`);
  if (!existsSync(path)) {
    execFileSync("ffmpeg", [
      "-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i", `testsrc2=size=${size}:rate=25,noise=alls=8:allf=t`, "-t", "4",
      "-c:v", "libx264", "-threads", "1", "-profile:v", "high", "-crf", "23", "-g", "12", "-bf", "3", "-sc_threshold", "0",
      "-pix_fmt", "yuv420p", path,
    ]);
  }
  return path;
}

bundleWorker(join(dir, "dist"), process.cwd(), "worker/scripts/bench-decode.wrangler.toml");
const mf = startBundledWorker(join(dir, "dist"), "bench-decode-worker.js");

async function timed(path: string): Promise<number> {
  const start = performance.now();
  const res = await mf.dispatchFetch(`http://bench${path}`);
  await res.text();
  if (res.status !== 200) throw new Error(`${path}: status ${res.status}`);
  return performance.now() - start;
}
/** CPU milliseconds (user + system) that Miniflare's workerd child has used; undefined off Linux. */
function workerdCpuMs(): number | undefined {
  try {
    const children = readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, "utf8").trim().split(/\s+/);
    let ticks = 0;
    for (const pid of children) {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      if (!stat.includes("(workerd)")) continue;
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // from field 3 (state) on
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime: fields 14 and 15
    }
    return ticks > 0 ? ticks * 10 : undefined; // USER_HZ is 100
  } catch {
    return undefined;
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

for (const size of sizes) {
  const path = video(size);
  const res = await mf.dispatchFetch("http://bench/", { method: "POST", body: readFileSync(path) });
  const { keyframes, keyframeBytes } = (await res.json()) as { keyframes: number; keyframeBytes: number };
  for (let k = 0; k < keyframes; k++) await timed(`/?k=${k}&reps=3`); // V8 tiers the wasm up
  const perKeyframe: number[] = [];
  for (let k = 0; k < keyframes; k++) {
    const overhead = median([await timed(`/?k=${k}&reps=0`), await timed(`/?k=${k}&reps=0`), await timed(`/?k=${k}&reps=0`)]);
    perKeyframe.push(((await timed(`/?k=${k}&reps=${reps}`)) - overhead) / reps);
  }
  const cpuBefore = workerdCpuMs();
  for (let k = 0; k < keyframes; k++) await timed(`/?k=${k}&reps=${reps}`);
  const cpuAfter = workerdCpuMs();
  const cpu = cpuBefore === undefined || cpuAfter === undefined ? "n/a" : `${((cpuAfter - cpuBefore) / (keyframes * reps)).toFixed(2)} ms`;
  console.log(
    `${size} (${keyframes} keyframes of ${(keyframeBytes / 1024).toFixed(0)} KB on average, ${reps} decodes each): ` +
      `wall ms per keyframe ${perKeyframe.map((ms) => ms.toFixed(2)).join(" ")}; median ${median(perKeyframe).toFixed(2)} ms; ` +
      `workerd CPU per decode ${cpu}`,
  );
}
await mf.dispose();
