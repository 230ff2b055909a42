// Which channels to keep: per-group ratios (uniform, with per-layer
// overrides) or a global fraction ranked across groups (for budgets).
// Kept counts are multiples of the granularity where the group is big
// enough, and never below one channel.
import { matchesLayer, type PruneConfig } from "./config.ts";
import type { Analysis } from "./groups.ts";

/** How many of n channels to keep when `drop` of them should go. */
export function keptCount(n: number, drop: number, granularity: number): number {
  if (drop <= 0) return n;
  const want = n - drop;
  let k = Math.round(want / granularity) * granularity;
  if (k < 1) k = Math.min(granularity, n);
  return Math.max(1, Math.min(n, k));
}

/** Keeps the k highest-scoring units of a group. */
function topK(scores: Float64Array, k: number): Uint8Array {
  const order = Array.from(scores.keys()).sort((a, b) => scores[b] - scores[a] || a - b);
  const keep = new Uint8Array(scores.length);
  for (const u of order.slice(0, k)) keep[u] = 1;
  return keep;
}

/** The ratio for a group: the first layer rule matching one of its producers, else the global ratio. */
export function groupRatio(config: Pick<PruneConfig, "ratio" | "layers">, producers: readonly string[]): number {
  const rule = config.layers.find((r) => producers.some((p) => matchesLayer(r.match, p)));
  return rule?.ratio ?? config.ratio ?? 0;
}

export function keepByRatio(
  analysis: Analysis,
  scores: readonly Float64Array[],
  config: Pick<PruneConfig, "ratio" | "layers" | "granularity">,
): Uint8Array[] {
  return analysis.groups.map((group, g) => {
    const n = group.units.length;
    const ratio = group.locked ? 0 : groupRatio(config, group.producers);
    return topK(scores[g], keptCount(n, Math.round(n * ratio), config.granularity));
  });
}

/**
 * Drops the `fraction` of all prunable units with the lowest scores, each
 * normalized by its group's mean (so wide and narrow groups compare).
 */
export function keepGlobal(analysis: Analysis, scores: readonly Float64Array[], fraction: number, granularity: number): Uint8Array[] {
  const ranked: { g: number; score: number }[] = [];
  analysis.groups.forEach((group, g) => {
    if (group.locked || group.units.length < 2) return;
    const mean = scores[g].reduce((a, b) => a + b, 0) / scores[g].length || 1;
    scores[g].forEach((s) => ranked.push({ g, score: s / mean }));
  });
  ranked.sort((a, b) => a.score - b.score);
  const drops = new Map<number, number>();
  for (const r of ranked.slice(0, Math.round(fraction * ranked.length))) drops.set(r.g, (drops.get(r.g) ?? 0) + 1);
  return analysis.groups.map((group, g) => topK(scores[g], keptCount(group.units.length, drops.get(g) ?? 0, granularity)));
}
