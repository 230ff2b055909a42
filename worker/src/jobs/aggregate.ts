// A finished job's video-level answer from its clips' results: tags are the
// top-k of the clips' mean softmax (as training's validation and POST
// /v1/classify aggregate), segments are runs of consecutive clips with the same
// top label. Pure functions: the Durable Object and `npm run tag` share them.
import type { ClipResult, Segment } from "./schema.ts";

export interface Prediction {
  label: string;
  score: number;
}

/** The k best labels of the mean of the clips' softmax; equal scores keep label order. */
export function videoTags(clips: readonly ClipResult[], labels: readonly string[], k: number): Prediction[] {
  if (clips.length === 0) return [];
  const mean = new Array<number>(labels.length).fill(0);
  for (const clip of clips) clip.scores.forEach((p, i) => (mean[i] += p / clips.length));
  return mean
    .map((score, index) => ({ label: labels[index], score, index }))
    .sort((a, b) => b.score - a.score || a.index - b.index)
    .slice(0, k)
    .map(({ label, score }) => ({ label, score }));
}

/**
 * Consecutive clips (by id) with the same top label, merged: start of the
 * first, end of the last, the mean of their top scores. A clip without a
 * result (failed) breaks a run: a segment only spans clips that were seen.
 */
export function segments(clips: readonly ClipResult[]): Segment[] {
  const out: Segment[] = [];
  let lastId = -2;
  for (const clip of [...clips].sort((a, b) => a.id - b.id)) {
    const top = clip.top[0];
    const open = out.at(-1);
    if (open && open.label === top.label && clip.id === lastId + 1) {
      open.score = (open.score * open.clips + top.score) / (open.clips + 1);
      open.end = Math.max(open.end, clip.end);
      open.clips++;
    } else {
      out.push({ start: clip.start, end: clip.end, label: top.label, score: top.score, clips: 1 });
    }
    lastId = clip.id;
  }
  return out;
}
