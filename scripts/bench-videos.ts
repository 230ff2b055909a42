// The benchmarks' phone-style test videos, made once by ffmpeg and cached:
// 10 s, 30 fps, High profile with B-frames, GOP 30, moov at the end; noise over
// a moving test card keeps the bitrate of real footage.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";

export const VIDEOS = {
  "720p": { size: "1280x720", bitrate: "1000k" },
  "1080p": { size: "1920x1080", bitrate: "2500k" },
} as const;
export type VideoName = keyof typeof VIDEOS;

/** The video's bytes, from `cache` or made there. */
export function makeVideo(name: VideoName, cache: string): Uint8Array {
  const path = join(cache, `${name}.mp4`);
  if (!existsSync(path)) {
    mkdirSync(cache, { recursive: true });
    const { size, bitrate } = VIDEOS[name];
    const partial = `${path}.partial.mp4`;
    const args = [
      "-v", "error", "-y", "-f", "lavfi", "-i", `testsrc2=size=${size}:rate=30`, "-t", "10",
      "-vf", "noise=alls=10:allf=t,format=yuv420p", "-c:v", "libx264", "-profile:v", "high", "-preset", "veryfast",
      "-b:v", bitrate, "-g", "30", "-bf", "2", partial,
    ];
    const r = spawnSync("ffmpeg", args, { stdio: ["ignore", "inherit", "inherit"] });
    if (r.status !== 0) throw new Error(`ffmpeg failed (exit ${r.status}${r.error ? `: ${r.error.message}` : ""})`);
    renameSync(partial, path);
  }
  return new Uint8Array(readFileSync(path));
}
