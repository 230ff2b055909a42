// A job's timeline as one self-contained HTML page (no scripts, no external
// resources, so it can be saved, mailed or put in docs): the video's duration
// as an axis, the segments coloured by label, a score strip per leading label
// over the clips, failed clips marked, and the video-level tags.
import type { ClipResult, Job } from "./schema.ts";

type TimelineJob = Pick<Job, "id" | "status" | "video" | "model" | "labels" | "tags" | "segments" | "clips" | "failures" | "progress">;

// Twelve colours that stay apart from each other on white (Tableau 10 + 2).
const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#1f77b4", "#8c564b"];
const WIDTH = 960;
const LEFT = 130; // room for the strips' label names
const RIGHT = 20;
const PLOT = WIDTH - LEFT - RIGHT;
const STRIP = 26;
/** Score strips for at most this many labels (the video's leading tags). */
const MAX_STRIPS = 8;

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

const colour = (job: Pick<Job, "labels">, label: string) => PALETTE[Math.max(job.labels.indexOf(label), 0) % PALETTE.length];
const num = (n: number) => String(Math.round(n * 100) / 100);

/** "1:02:03" or "2:03". */
export function clock(seconds: number): string {
  const s = Math.round(seconds);
  const mmss = `${String(Math.floor(s / 60) % 60).padStart(s >= 3600 ? 2 : 1, "0")}:${String(s % 60).padStart(2, "0")}`;
  return s >= 3600 ? `${Math.floor(s / 3600)}:${mmss}` : mmss;
}

/** A tick step giving at most ~10 ticks over the duration. */
function tickStep(duration: number): number {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200];
  return steps.find((s) => duration / s <= 10) ?? Math.ceil(duration / 10 / 3600) * 3600;
}

interface Column {
  from: number;
  to: number;
  clips: ClipResult[];
  /** How a tooltip names the column's clips. */
  name: string;
}

const centre = (c: ClipResult) => (c.start + c.end) / 2;

/**
 * The score strips' columns. One per clip, from the midpoint with the previous
 * clip's centre to the midpoint with the next (overlapping windows tile the
 * axis); when clips outnumber the strip's pixels, one per pixel column with
 * the clips centred in it (their mean is drawn), so the page stays small.
 */
function columns(clips: readonly ClipResult[], duration: number): Column[] {
  const sorted = [...clips].sort((a, b) => a.start - b.start);
  if (sorted.length <= PLOT) {
    return sorted.map((clip, i) => ({
      from: i === 0 ? Math.max(0, clip.start) : (centre(sorted[i - 1]) + centre(clip)) / 2,
      to: i === sorted.length - 1 ? Math.min(duration, clip.end) : (centre(clip) + centre(sorted[i + 1])) / 2,
      clips: [clip],
      name: `clip ${clip.id} ${clock(clip.start)}–${clock(clip.end)}`,
    }));
  }
  const bins: ClipResult[][] = Array.from({ length: PLOT }, () => []);
  for (const clip of sorted) bins[Math.min(PLOT - 1, Math.max(0, Math.floor((centre(clip) / duration) * PLOT)))].push(clip);
  return bins.flatMap((group, i) => {
    if (group.length === 0) return [];
    const [from, to] = [(i * duration) / PLOT, ((i + 1) * duration) / PLOT];
    return [{ from, to, clips: group, name: `${group.length} clips (${group[0].id}–${group.at(-1)!.id}) ${clock(from)}–${clock(to)}, mean` }];
  });
}

/** The timeline picture alone, as a standalone SVG document. */
export function timelineSvg(job: TimelineJob): string {
  const duration = Math.max(job.video.durationSeconds, ...job.segments.map((s) => s.end), 1e-3);
  const x = (t: number) => LEFT + (Math.min(Math.max(t, 0), duration) / duration) * PLOT;
  const w = (a: number, b: number) => Math.max(x(b) - x(a), 0.5);
  const strips = [...new Set([...job.tags.map((t) => t.label), ...job.segments.map((s) => s.label)])].slice(0, MAX_STRIPS);
  const parts: string[] = [];
  let y = 10;

  // Segments.
  parts.push(`<text x="${LEFT - 8}" y="${y + 19}" text-anchor="end" class="row">segments</text>`);
  for (const s of job.segments) {
    parts.push(
      `<rect class="segment" data-label="${escapeHtml(s.label)}" x="${num(x(s.start))}" y="${y}" width="${num(w(s.start, s.end))}" height="28" fill="${colour(job, s.label)}">` +
        `<title>${escapeHtml(s.label)} ${s.score.toFixed(2)}, ${clock(s.start)}–${clock(s.end)} (${s.clips} clip${s.clips === 1 ? "" : "s"})</title></rect>`,
    );
  }
  for (const f of job.failures) {
    parts.push(`<rect class="failed" x="${num(x(f.start))}" y="${y + 30}" width="${num(w(f.start, f.end))}" height="5" fill="#d62728"><title>clip ${f.id} failed: ${escapeHtml(f.code)}</title></rect>`);
  }
  y += 44;

  // Score strips: a bar per column, its height the (mean) probability of the label.
  const cols = columns(job.clips, duration);
  for (const label of strips) {
    const index = job.labels.indexOf(label);
    parts.push(`<text x="${LEFT - 8}" y="${y + STRIP - 8}" text-anchor="end" class="row">${escapeHtml(label)}</text>`);
    parts.push(`<rect x="${LEFT}" y="${y}" width="${PLOT}" height="${STRIP - 4}" fill="#f3f3f3"/>`);
    for (const { from, to, clips, name } of cols) {
      const p = clips.reduce((sum, clip) => sum + (clip.scores[index] ?? 0), 0) / clips.length;
      const h = p * (STRIP - 4);
      parts.push(`<rect class="score" x="${num(x(from))}" y="${num(y + STRIP - 4 - h)}" width="${num(w(from, to))}" height="${num(h)}" fill="${colour(job, label)}"><title>${name}: ${escapeHtml(label)} ${p.toFixed(3)}</title></rect>`);
    }
    y += STRIP;
  }

  // Time axis.
  y += 4;
  parts.push(`<line x1="${LEFT}" y1="${y}" x2="${LEFT + PLOT}" y2="${y}" stroke="#555"/>`);
  const step = tickStep(duration);
  for (let t = 0; t <= duration + 1e-9; t += step) {
    parts.push(`<line x1="${num(x(t))}" y1="${y}" x2="${num(x(t))}" y2="${y + 5}" stroke="#555"/><text x="${num(x(t))}" y="${y + 18}" text-anchor="middle" class="tick">${clock(t)}</text>`);
  }
  y += 26;

  const style = "<style>text{font:12px system-ui,sans-serif;fill:#333}.tick{font-size:11px;fill:#555}</style>";
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${y}" width="${WIDTH}" height="${y}" role="img" aria-label="timeline of ${escapeHtml(job.video.key)}">` +
    `${style}<rect width="${WIDTH}" height="${y}" fill="#fff"/>${parts.join("")}</svg>`
  );
}

/** The page: heading, tags, legend, the SVG. */
export function renderTimeline(job: TimelineJob): string {
  const labels = [...new Set(job.segments.map((s) => s.label))];
  const tags = job.tags.map((t) => `<li><span class="swatch" style="background:${colour(job, t.label)}"></span>${escapeHtml(t.label)} <b>${t.score.toFixed(3)}</b></li>`).join("");
  const legend = labels.map((l) => `<li><span class="swatch" style="background:${colour(job, l)}"></span>${escapeHtml(l)}</li>`).join("");
  const v = job.video;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Timeline of ${escapeHtml(v.key)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;color:#222;margin:24px;max-width:1000px}
h1{font-size:20px;margin:0 0 4px}
.meta{color:#555;margin:0 0 16px}
ul{list-style:none;padding:0;margin:0 0 12px;display:flex;flex-wrap:wrap;gap:6px 18px}
.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:6px;vertical-align:-1px}
svg{max-width:100%;height:auto}
</style>
</head>
<body>
<h1>${escapeHtml(v.key)}</h1>
<p class="meta">${clock(v.durationSeconds)} · ${v.width}×${v.height} · ${escapeHtml(v.codec)} · model ${escapeHtml(job.model.id)}@${escapeHtml(job.model.version)} · job ${escapeHtml(job.id)} ${escapeHtml(job.status)}, ${job.progress.done} of ${job.progress.total} clips${job.progress.failed ? `, ${job.progress.failed} failed` : ""}</p>
<h2 style="font-size:15px;margin:0 0 6px">Tags</h2>
<ul class="tags">${tags}</ul>
<h2 style="font-size:15px;margin:0 0 6px">Segments</h2>
<ul class="legend">${legend}</ul>
${timelineSvg(job)}
</body>
</html>
`;
}
