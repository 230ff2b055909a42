// The pruning config (compile.json's prune stage, or the CLI's flags), checked
// with zod at the boundary. Ratios are the fraction of channels REMOVED.
import { z } from "zod";

const ratio = z.number().min(0).max(0.99);

export const layerRatioSchema = z.object({
  /** A producing node's name, or /regex/ matched against it. */
  match: z.string().min(1),
  ratio,
});

export const budgetSchema = z.union([
  z.object({ macs: z.number().positive() }).strict(),
  z.object({ params: z.number().positive() }).strict(),
  z.object({ latencyMs: z.number().positive() }).strict(),
]);

export const pruneConfigSchema = z
  .object({
    /** Remove this fraction of every prunable group's channels. */
    ratio: ratio.optional(),
    /** Per-group ratios by producing node name or /regex/; they override `ratio`. */
    layers: z.array(layerRatioSchema).default([]),
    /** Prune (globally, least important first) until the graph fits. */
    budget: budgetSchema.optional(),
    importance: z.enum(["l1", "bn", "taylor"]).default("l1"),
    /** How a unit's score combines its members' (each producing conv, BN, value). */
    aggregate: z.enum(["sum", "mean", "max"]).default("sum"),
    /** Kept channel counts are rounded to a multiple of this (wasm SIMD likes 4/8). */
    granularity: z.number().int().min(1).default(1),
    /** Latency budgets: the pruning step between measurements (fraction of all channels). */
    latencyStep: z.number().min(0.01).max(0.5).default(0.05),
  })
  .strict()
  .refine((c) => c.ratio !== undefined || c.layers.length > 0 || c.budget !== undefined, {
    message: "give a ratio, per-layer ratios (layers) or a budget",
  })
  .refine((c) => !(c.budget && (c.ratio !== undefined || c.layers.length > 0)), {
    message: "a budget cannot be combined with ratios",
  });

export type PruneConfig = z.output<typeof pruneConfigSchema>;
export type PruneConfigInput = z.input<typeof pruneConfigSchema>;
export type Budget = z.output<typeof budgetSchema>;

/** Whether a producing node name matches a layer rule ("/regex/" or an exact name). */
export function matchesLayer(rule: string, name: string): boolean {
  const regex = /^\/(.*)\/([a-z]*)$/.exec(rule);
  return regex ? new RegExp(regex[1], regex[2]).test(name) : rule === name;
}
