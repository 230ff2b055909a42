// A job's results as files people open elsewhere: CSV for spreadsheets and
// scripts (one row per clip) and WebVTT for video players (one cue per
// segment, shown over the video as a caption track).
import type { Job } from "./schema.ts";

/** RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

const seconds = (s: number) => s.toFixed(3);
const score = (p: number) => p.toFixed(4);

/**
 * One row per clip of the plan, by clip id: its window, its top label and
 * score, then its probability for every label (columns in the model's label
 * order). A clip that failed keeps its row, with the reason in `error`.
 * CRLF line ends, as RFC 4180 says.
 */
export function renderCsv(job: Pick<Job, "labels" | "clips" | "failures">): string {
  const header = ["clip", "start", "end", "label", "score", "error", ...job.labels].map(csvField).join(",");
  // Only text cells can need quoting: numbers are joined as they are (a long job has millions of them).
  const rows: { id: number; line: string }[] = [
    ...job.clips.map((c) => ({
      id: c.id,
      line: `${c.id},${seconds(c.start)},${seconds(c.end)},${csvField(c.top[0]?.label ?? "")},${c.top[0] ? score(c.top[0].score) : ""},,${c.scores.map(score).join(",")}`,
    })),
    ...job.failures.map((f) => ({ id: f.id, line: `${f.id},${seconds(f.start)},${seconds(f.end)},,,${csvField(`${f.code}: ${f.message}`)},${",".repeat(Math.max(job.labels.length - 1, 0))}` })),
  ];
  rows.sort((a, b) => a.id - b.id);
  return [header, ...rows.map((r) => r.line)].map((line) => `${line}\r\n`).join("");
}

/** WebVTT's timestamp, always with hours: HH:MM:SS.mmm (hours grow past 99 if they must). */
export function vttTime(s: number): string {
  const ms = Math.round(Math.max(s, 0) * 1000);
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  return `${pad(Math.floor(ms / 3_600_000))}:${pad(Math.floor(ms / 60_000) % 60)}:${pad(Math.floor(ms / 1000) % 60)}.${pad(ms % 1000, 3)}`;
}

/** Cue text: & and < start markup in WebVTT, and > would let "-->" through. */
const cueText = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/[\r\n]+/g, " ");

/** One cue per segment: "label (score)", numbered from 1; overlapping clip windows make overlapping cues, which players stack. */
export function renderVtt(job: Pick<Job, "id" | "model" | "segments">): string {
  const head = `WEBVTT\n\nNOTE edgevid job ${job.id}, model ${job.model.id}@${job.model.version}: the top label of each run of clips, with its mean score\n`;
  const cues = job.segments.map((s, i) => `\n${i + 1}\n${vttTime(s.start)} --> ${vttTime(s.end)}\n${cueText(s.label)} (${s.score.toFixed(2)})\n`);
  return head + cues.join("");
}
