// `npm run tag` end to end: a folder of three real H.264 MP4s (made by ffmpeg
// here, a few seconds each, different GOPs, B-frames, moov placement,
// fragmenting) plus a file that is not an MP4 and an HEVC one, tagged with the
// bundled model.
// Outputs must parse as the Worker's Job shape, hold every planned clip once,
// have segments that tile the clips, and agree clip by clip with what the real
// Worker bundle (onnxruntime-web in workerd, via Miniflare) answers for the same
// clips; one worker and two must give identical results.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleWorker, startBundledWorker } from "../worker/scripts/local-worker.ts";
import { JobSchema, type Job } from "../worker/src/jobs/schema.ts";
import { expandInputs } from "../tagger/inputs.ts";
import { formatDuration, Progress } from "../tagger/progress.ts";

const root = new URL("..", import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), "edgevid-tag-"));
const videos = join(work, "videos");
const CLIPS = 5;
const LABELS = 8; // the bundled model's

// One thread, ultrafast: a few hundred ms each on the shared cores.
const x264 = ["-c:v", "libx264", "-threads", "1", "-preset", "ultrafast", "-pix_fmt", "yuv420p"];
const RECIPES: Record<string, string[]> = {
  "gop25_moov_end": ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "6", ...x264, "-g", "25"],
  "bframes_faststart": ["-f", "lavfi", "-i", "mandelbrot=size=256x144:rate=30", "-t", "5", "-c:v", "libx264", "-threads", "1", "-preset", "veryfast", "-profile:v", "high", "-bf", "2", "-g", "15", "-pix_fmt", "yuv420p", "-movflags", "+faststart"],
  "nested/fragmented": ["-f", "lavfi", "-i", "testsrc2=size=192x108:rate=24", "-t", "4", ...x264, "-g", "12", "-movflags", "frag_keyframe+empty_moov+default_base_moof"],
};

interface Run {
  status: number | null;
  stderr: string;
  out: string;
}

function tag(out: string, ...args: string[]): Run {
  const r = spawnSync("npx", ["tsx", "tagger/cli.ts", videos, "--clips", String(CLIPS), "--topk", "3", "--threads", "1", "--out", out, ...args], {
    cwd: root,
    encoding: "utf8",
  });
  return { status: r.status, stderr: r.stderr, out };
}

const readJob = (run: Run, name: string): Job => JobSchema.parse(JSON.parse(readFileSync(join(run.out, "videos", `${name}.json`), "utf8")));

let one: Run;
let two: Run;
let mf: Miniflare;

beforeAll(() => {
  for (const [name, args] of Object.entries(RECIPES)) {
    mkdirSync(join(videos, name, ".."), { recursive: true });
    execFileSync("ffmpeg", ["-v", "error", "-y", ...args, join(videos, `${name}.mp4`)]);
  }
  writeFileSync(join(videos, "notes.mp4"), "not a video, just text with an .mp4 name\n");
  // A real MP4 in a codec the decoder does not take.
  execFileSync("ffmpeg", ["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=128x72:rate=10", "-t", "1", "-c:v", "libx265", "-x265-params", "log-level=error:pools=1:frame-threads=1", "-tag:v", "hvc1", join(videos, "hevc.mp4")]);
  one = tag(join(work, "out1"), "--workers", "1", join(work, "missing.mp4"));
  two = tag(join(work, "out2"), "--workers", "2", "--no-progress", "--format", "json,csv,vtt,html");
  const dist = join(work, "dist");
  bundleWorker(dist, root);
  mf = startBundledWorker(dist);
}, 600_000);

afterAll(async () => {
  await mf?.dispose();
  rmSync(work, { recursive: true, force: true });
});

describe("npm run tag", () => {
  it("names each bad file and its problem, tags the others, and exits non-zero", () => {
    for (const run of [one, two]) {
      expect(run.status, run.stderr).toBe(1);
      expect(run.stderr).toMatch(/error: \S*notes\.mp4: it is not an MP4/);
      expect(run.stderr).toMatch(/error: \S*hevc\.mp4: its video is HEVC \(H\.265, hvc1\); only H\.264/);
      expect(existsSync(join(run.out, "videos", "notes.json"))).toBe(false);
      expect(existsSync(join(run.out, "videos", "hevc.json"))).toBe(false);
    }
    expect(one.stderr).toMatch(/error: \S*missing\.mp4: no such file or folder/);
    expect(one.stderr).toContain("tagged 3 of 6 inputs (3 refused)");
    expect(two.stderr).toContain("tagged 3 of 5 inputs (2 refused)");
    // The progress bar: clips done / total, rate, ETA (a line per step when not a terminal).
    expect(one.stderr).toMatch(new RegExp(`\\] ${3 * CLIPS}/${3 * CLIPS} clips +[\\d.]+ clips/s +ETA 00:00`));
    expect(two.stderr).not.toContain("clips/s  ETA");
  });

  it("writes a Job per video with every planned clip once and segments that tile them", () => {
    for (const name of Object.keys(RECIPES)) {
      const job = readJob(one, name);
      expect(job.status).toBe("completed");
      expect(job.clipsPerVideo).toBe(CLIPS);
      expect(job.progress).toEqual({ done: CLIPS, failed: 0, total: CLIPS });
      expect(job.failures).toEqual([]);
      expect(job.clips.map((c) => c.id)).toEqual([...Array(CLIPS).keys()]);
      expect(job.planning!.bytesRead).toBeLessThan(job.video.bytes);
      for (const clip of job.clips) {
        expect(clip.scores).toHaveLength(LABELS);
        expect(clip.scores.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
        expect(clip.top.map((t) => t.label)).toEqual(job.labels.map((l, i) => ({ l, p: clip.scores[i] })).sort((a, b) => b.p - a.p).slice(0, 3).map((x) => x.l));
      }
      // Segments: consecutive runs of the clips' top labels, in order, covering each clip once.
      expect(job.segments.reduce((n, s) => n + s.clips, 0)).toBe(CLIPS);
      let next = 0;
      for (const segment of job.segments) {
        const covered = job.clips.slice(next, next + segment.clips);
        expect(covered.every((c) => c.top[0].label === segment.label)).toBe(true);
        expect(segment.start).toBe(covered[0].start);
        expect(segment.end).toBe(covered.at(-1)!.end);
        next += segment.clips;
      }
      for (let i = 1; i < job.segments.length; i++) expect(job.segments[i].label).not.toBe(job.segments[i - 1].label);

      // The Worker's renderers: a CSV row per clip, a WebVTT cue per segment; the timeline page on request.
      const csv = readFileSync(join(one.out, "videos", `${name}.csv`), "utf8").trimEnd().split("\r\n");
      expect(csv[0]).toBe(["clip", "start", "end", "label", "score", "error", ...job.labels].join(","));
      expect(csv.slice(1).map((row) => row.split(",")[3])).toEqual(job.clips.map((c) => c.top[0].label));
      const vtt = readFileSync(join(one.out, "videos", `${name}.vtt`), "utf8");
      expect(vtt.startsWith("WEBVTT")).toBe(true);
      expect(vtt.match(/-->/g)).toHaveLength(job.segments.length);
      expect(existsSync(join(one.out, "videos", `${name}.html`))).toBe(false);
      expect(readFileSync(join(two.out, "videos", `${name}.html`), "utf8")).toContain("<svg");
    }
  });

  it("agrees clip by clip with the Worker's POST /v1/classify (onnxruntime-web in workerd)", async () => {
    for (const name of Object.keys(RECIPES)) {
      const job = readJob(one, name);
      const res = await mf.dispatchFetch(`http://edge.test/v1/classify?clips=${CLIPS}&topk=${LABELS}`, {
        method: "POST",
        body: readFileSync(join(videos, `${name}.mp4`)),
        headers: { "content-type": "video/mp4" },
      });
      const answer = (await res.json()) as { clips: { start: number; end: number; keyframeTimes: number[]; top: { label: string; score: number }[] }[]; top: { label: string; score: number }[] };
      expect(res.status, JSON.stringify(answer)).toBe(200);
      expect(answer.clips).toHaveLength(CLIPS);
      answer.clips.forEach((expected, c) => {
        const clip = job.clips[c];
        expect([clip.start, clip.end, clip.keyframeTimes]).toEqual([expected.start, expected.end, expected.keyframeTimes]);
        expect(clip.top[0].label).toBe(expected.top[0].label);
        for (const { label, score } of expected.top) expect(Math.abs(clip.scores[job.labels.indexOf(label)] - score)).toBeLessThan(1e-4);
      });
      expect(job.tags.map((t) => t.label)).toEqual(answer.top.slice(0, 3).map((t) => t.label));
    }
  });

  it("writes a failed job, naming the file, when the keyframes behind an intact index do not decode", () => {
    const dir = join(work, "corrupt");
    mkdirSync(dir);
    const bytes = readFileSync(join(videos, "gop25_moov_end.mp4"));
    // Scramble mdat (ffmpeg writes it before the moov): the index is intact, the samples are not.
    const mdat = bytes.indexOf("mdat") + 4;
    for (let i = mdat; i < mdat + (bytes.length >> 1); i++) bytes[i] = (i * 2654435761) >>> 24;
    writeFileSync(join(dir, "scrambled.mp4"), bytes);
    const r = spawnSync("npx", ["tsx", "tagger/cli.ts", join(dir, "scrambled.mp4"), "--clips", "4", "--workers", "1", "--out", join(dir, "out")], { cwd: root, encoding: "utf8" });
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/error: \S*scrambled\.mp4: the keyframe at 0\.000 s could not be decoded.*\(4 of 4 clips failed\)/);
    expect(r.stderr).toContain("tagged 0 of 1 inputs (1 with failed clips)");
    const job = JobSchema.parse(JSON.parse(readFileSync(join(dir, "out", "scrambled.json"), "utf8")));
    expect(job.status).toBe("failed");
    expect(job.clips).toEqual([]);
    expect(job.failures.map((f) => [f.id, f.code])).toEqual([0, 1, 2, 3].map((id) => [id, "corrupt_video"]));
    expect(job.error?.code).toBe("corrupt_video");
    expect(job.segments).toEqual([]);
    expect(job.tags).toEqual([]);
  });

  it("gives the same results with two workers as with one", () => {
    for (const name of Object.keys(RECIPES)) {
      const [a, b] = [readJob(one, name), readJob(two, name)];
      expect(b.clips).toEqual(a.clips);
      expect(b.tags).toEqual(a.tags);
      expect(b.segments).toEqual(a.segments);
    }
  });
});

describe("npm run tag's inputs and progress line", () => {
  it("finds videos in folders recursively, keeps their layout in output names, numbers clashes", async () => {
    const dir = join(work, "layout");
    for (const f of ["top/a/x.mp4", "top/b/x.MOV", "top/b/readme.txt", "top/c.m4v", "empty/.keep", "other/x.mp4"]) {
      mkdirSync(join(dir, f, ".."), { recursive: true });
      writeFileSync(join(dir, f), "");
    }
    const { videos, problems } = await expandInputs([join(dir, "top"), join(dir, "other", "x.mp4"), join(dir, "empty"), join(dir, "nope.mp4")]);
    expect(videos.map((v) => v.name)).toEqual(["top/a/x", "top/b/x", "top/c", "x"]);
    expect(videos[1].path).toBe(join(dir, "top/b/x.MOV"));
    expect(problems).toEqual([
      { path: join(dir, "empty"), message: "the folder holds no .mp4/.m4v/.mov files" },
      { path: join(dir, "nope.mp4"), message: "no such file or folder" },
    ]);
    const twice = await expandInputs([join(dir, "other", "x.mp4"), join(dir, "top", "a", "x.mp4")]);
    expect(twice.videos.map((v) => v.name)).toEqual(["x", "x-2"]);
  });

  it("shows clips done / total, clips per second and the ETA", () => {
    let now = 0;
    const written: string[] = [];
    const stream = { isTTY: false, write: (text: string) => written.push(text) } as unknown as NodeJS.WriteStream;
    const progress = new Progress(40, { stream, width: 10, now: () => now });
    now = 2000;
    progress.add(10);
    expect(progress.line()).toBe("[###.......] 10/40 clips  5.0 clips/s  ETA 00:06");
    now = 4000;
    progress.add(10, 4);
    expect(progress.line()).toBe("[######....] 24/40 clips, 4 failed  6.0 clips/s  ETA 00:03");
    // Not a terminal: a line per tenth of the work, not per update.
    expect(written).toHaveLength(2);
    progress.add(1);
    expect(written).toHaveLength(2);
    expect(formatDuration(3725)).toBe("1:02:05");
    expect(formatDuration(Infinity)).toBe("--:--");
  });
});
