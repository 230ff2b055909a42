// ?explain=1: per-frame heatmaps for one class from the class map a compiled
// model exposes (compiler/passes/expose-class-map.ts: each location's
// contribution to each logit, Grad-CAM at the head's pool input before its
// ReLU). Like Grad-CAM: the positive part, scaled so the clip's hottest
// location is 1; the map's time steps spread over the model's frame slots.
import type { Manifest } from "../../contract/manifest.ts";
import type { ClassifyOptions } from "./api-schemas.ts";
import { userError } from "./errors.ts";
import type { OutputTensor } from "./ort.ts";
import { ms } from "./timing.ts";

export interface ExplainGrid {
  t: number;
  h: number;
  w: number;
}

/** The request's explain and label options against the model, before any work: a 409 or 400 saying what to send instead. */
export function checkExplainOptions(manifest: Manifest, { explain, label }: Pick<ClassifyOptions, "explain" | "label">): void {
  if (label !== undefined && !explain) {
    throw userError(400, "invalid_option", "label is given without explain=1", "label names the class to explain, with explain=1");
  }
  if (explain && !manifest.output.classMap) {
    throw userError(
      409,
      "explain_unavailable",
      `model ${manifest.id}@${manifest.version} has no class-map output, so it cannot explain`,
      "explain with a model compiled by `npm run compile -- RUN --explain` (the bundled default model has one), or classify without explain",
    );
  }
  if (label !== undefined && !manifest.labels.includes(label)) {
    throw userError(400, "unknown_label", `label "${label}" is not one of model ${manifest.id}@${manifest.version}'s labels`, `label: one of ${manifest.labels.join(", ")}`);
  }
}

export function gridOf(map: OutputTensor): ExplainGrid {
  const [, , t, h, w] = map.dims;
  return { t, h, w };
}

/** One clip's heatmaps for class `k`: one per model frame slot, h·w values in [0, 1] row-major, to 3 decimals. */
export function clipHeatmaps(map: OutputTensor, k: number, frames: number): number[][] {
  const { t, h, w } = gridOf(map);
  const plane = h * w;
  const own = map.data.subarray(k * t * plane, (k + 1) * t * plane);
  let max = 0;
  for (const v of own) max = Math.max(max, v);
  const scale = max > 0 ? 1 / max : 0;
  return Array.from({ length: frames }, (_, slot) => {
    const step = Math.floor((slot * t) / frames);
    return Array.from(own.subarray(step * plane, (step + 1) * plane), (v) => Math.round(Math.max(v, 0) * scale * 1000) / 1000);
  });
}

export interface ExplainedClip {
  start: number | null;
  end: number | null;
  /** The time of the frame in each model frame slot. */
  times: (number | null)[];
  map: OutputTensor;
}

export interface Explanation {
  label: string;
  index: number;
  grid: ExplainGrid;
  clips: { start: number | null; end: number | null; frames: { time: number | null; heatmap: number[] }[] }[];
  ms: number;
}

/** The answer's explain field: every clip's heatmaps for one class (`label`, checked by checkExplainOptions, else `best`). */
export function explainClips(manifest: Manifest, label: string | undefined, best: number, clips: readonly ExplainedClip[]): Explanation {
  const t0 = performance.now();
  const index = label === undefined ? best : manifest.labels.indexOf(label);
  const frames = manifest.input.frames;
  return {
    label: manifest.labels[index],
    index,
    grid: gridOf(clips[0].map),
    clips: clips.map(({ start, end, times, map }) => {
      const heatmaps = clipHeatmaps(map, index, frames);
      return { start, end, frames: heatmaps.map((heatmap, slot) => ({ time: times[slot], heatmap })) };
    }),
    ms: ms(t0, performance.now()),
  };
}
