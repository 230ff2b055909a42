// Makes the docs' timeline picture from a real tagging run: a "story" video of
// synthetic motion clips (training's make-dataset, fixed seed) cut together
// with ffmpeg, tagged by `npm run tag` with the bundled default model, drawn
// by the Worker's own timeline renderer (worker/src/jobs/timeline.ts) into
//   docs/timeline-example.html   the page GET /v1/jobs/:id/timeline serves
//   docs/timeline-example.svg    the picture alone
//   docs/timeline-example.png    a screenshot, when Debian's chromium is installed
// Usage: npx tsx scripts/timeline-example.ts [--clips N]
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { JobSchema } from "../worker/src/jobs/schema.ts";
import { renderTimeline, timelineSvg } from "../worker/src/jobs/timeline.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const DOCS = join(REPO, "docs");
const { values } = parseArgs({ options: { clips: { type: "string", default: "48" } } });

// What happens in the video, in order: [class, which validation clip].
const STORY: [string, number][] = [
  ["move_left", 0], ["move_left", 1], ["zoom_in", 0], ["zoom_in", 1], ["rotate_cw", 0], ["rotate_cw", 1],
  ["move_up", 0], ["move_up", 1], ["zoom_out", 0], ["zoom_out", 1], ["rotate_ccw", 0], ["move_right", 0], ["move_right", 1],
];

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { cwd: REPO, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed:\n${r.stderr || r.stdout}`);
  return r.stdout;
}

const work = mkdtempSync(join(tmpdir(), "edgevid-timeline-"));
try {
  const data = join(work, "synthetic");
  run(join(REPO, ".venv/bin/python"), ["-m", "videotrain", "make-dataset", "--out", data, "--train-per-class", "1", "--val-per-class", "2", "--seed", "11", "--workers", "1", "--quiet"]);

  // One size and rate for the concat; every frame a keyframe, so the Worker's
  // keyframe-only reads see the motion at the model's 8 frames per 2 s clip.
  const story = join(work, "story.mp4");
  const inputs = STORY.flatMap(([label, i]) => ["-i", join(data, "videos", label, `val_${String(i).padStart(5, "0")}.mp4`)]);
  const scaled = STORY.map((_, i) => `[${i}:v]scale=160:120,setsar=1,fps=25[v${i}]`).join(";");
  const concat = `${STORY.map((_, i) => `[v${i}]`).join("")}concat=n=${STORY.length}:v=1:a=0[out]`;
  run("ffmpeg", ["-v", "error", "-y", ...inputs, "-filter_complex", `${scaled};${concat}`, "-map", "[out]", "-c:v", "libx264", "-threads", "1", "-g", "1", "-pix_fmt", "yuv420p", "-movflags", "+faststart", story]);

  const out = join(work, "tags");
  run("npx", ["tsx", "tagger/cli.ts", story, "--clips", values.clips, "--format", "json", "--out", out, "--workers", "1", "--threads", "1", "--no-progress"]);
  const job = JobSchema.parse(JSON.parse(readFileSync(join(out, "story.json"), "utf8")));
  // Name the video by what it is rather than by a temporary path.
  job.video.key = "story.mp4 (13 synthetic motion clips, 160×120)";

  writeFileSync(join(DOCS, "timeline-example.html"), renderTimeline(job));
  writeFileSync(join(DOCS, "timeline-example.svg"), `${timelineSvg(job)}\n`);
  console.log(`tags: ${job.tags.map((t) => `${t.label} ${t.score.toFixed(3)}`).join(", ")}`);
  console.log(`segments: ${job.segments.map((s) => `${s.label} ${s.start.toFixed(1)}–${s.end.toFixed(1)} s`).join("; ")}`);
  console.log(`truth: ${STORY.map(([label]) => label).join(", ")} (~${(job.video.durationSeconds / STORY.length).toFixed(1)} s each)`);

  const chromium = ["chromium", "chromium-browser", "google-chrome"].find((c) => spawnSync("which", [c]).status === 0);
  if (chromium) {
    const png = join(DOCS, "timeline-example.png");
    run(chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", `--screenshot=${png}`, "--window-size=1040,560", `file://${join(DOCS, "timeline-example.html")}`]);
    console.log(`wrote ${png}`);
  } else {
    console.log("no chromium: docs/timeline-example.png not made (apt-get install -y chromium)");
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
if (!existsSync(join(DOCS, "timeline-example.svg"))) process.exit(1);
