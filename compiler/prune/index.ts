// Structural pruning: `prune(graph, config) -> { graph, summary, groups }`,
// pure like a pass (the input graph is never changed). Budgets on
// multiply-adds or parameters search the global fraction to drop; latency
// budgets need measurements, so they go through `pruneToLatency` (async).
import { CompileError } from "../errors.ts";
import type { Graph } from "../ir/index.ts";
import type { Pass } from "../passes/pass.ts";
import { applyKeep, type Keep } from "./apply.ts";
import { matchesLayer, pruneConfigSchema, type PruneConfig, type PruneConfigInput } from "./config.ts";
import { graphCost, type Cost } from "./cost.ts";
import { findGroups, type Analysis } from "./groups.ts";
import { unitScores, type TaylorScores } from "./importance.ts";
import { keepByRatio, keepGlobal } from "./select.ts";

export interface PruneOptions {
  /** The unfolded model (BN present), for BN-scale importance on a folded graph. */
  readonly teacher?: Graph;
  /** Per-channel Taylor scores by value name (from the training engine). */
  readonly taylor?: TaylorScores;
}

export interface GroupReport {
  readonly producers: readonly string[];
  readonly channels: number;
  readonly kept: number;
  readonly members: readonly string[];
  readonly locked?: string;
}

export interface PruneResult {
  readonly graph: Graph;
  readonly summary: string;
  readonly groups: readonly GroupReport[];
  readonly before: Cost;
  readonly after: Cost;
  /** What was decided, for the zeroed reference (apply.ts zeroDropped). */
  readonly analysis: Analysis;
  readonly keep: Keep;
}

/** Parses a config (CLI flags or compile.json); a bad one is the user's CompileError. */
export function parsePruneConfig(input: unknown, source: string): PruneConfig {
  const parsed = pruneConfigSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "(config)"}: ${i.message}`);
    throw new CompileError(`${source}: prune config: ${problems.join("; ")}`);
  }
  return parsed.data;
}

export function prune(graph: Graph, configInput: PruneConfigInput | PruneConfig, options: PruneOptions = {}): PruneResult {
  const config = parsePruneConfig(configInput, "prune");
  if (config.budget && "latencyMs" in config.budget) {
    throw new CompileError("prune: a latency budget needs measurements; use pruneToLatency");
  }
  const prepared = prepare(graph, config, options);
  if (!config.budget) return finish(prepared, keepByRatio(prepared.analysis, prepared.scores, config));
  const budget = config.budget;
  const [what, limit] = "macs" in budget ? (["macs", budget.macs] as const) : (["params", (budget as { params: number }).params] as const);
  if (Number.isNaN(prepared.before[what])) {
    throw new CompileError(`prune: cannot count the graph's ${what} (shape inference does not type every Conv/MatMul/Gemm/Einsum); give a ratio instead`);
  }
  const fits = (f: number) => {
    const keep = keepGlobal(prepared.analysis, prepared.scores, f, config.granularity);
    return graphCost(applyKeep(graph, prepared.analysis, keep))[what] <= limit ? keep : undefined;
  };
  if (prepared.before[what] <= limit) return finish(prepared, keepGlobal(prepared.analysis, prepared.scores, 0, 1));
  const most = fits(MAX_FRACTION);
  if (!most) {
    const least = graphCost(applyKeep(graph, prepared.analysis, keepGlobal(prepared.analysis, prepared.scores, MAX_FRACTION, config.granularity)));
    throw new CompileError(`prune: ${what} budget ${limit.toLocaleString("en-US")} is out of reach: pruning ${100 * MAX_FRACTION}% of the prunable channels leaves ${least[what].toLocaleString("en-US")}`);
  }
  // The smallest fraction that fits (cost falls as the fraction grows).
  let [lo, hi, best] = [0, MAX_FRACTION, most];
  for (let i = 0; i < 14; i++) {
    const mid = (lo + hi) / 2;
    const keep = fits(mid);
    if (keep) [hi, best] = [mid, keep];
    else lo = mid;
  }
  return finish(prepared, best);
}

/** The most of the prunable channels a budget search may drop. */
const MAX_FRACTION = 0.95;

/**
 * Prunes in steps of `latencyStep` (a fraction of all prunable channels,
 * globally ranked), measuring each step, until `measure` reports at most
 * the budget. `measure` gets the pruned graph and returns milliseconds.
 */
export async function pruneToLatency(
  graph: Graph,
  configInput: PruneConfigInput,
  measure: (graph: Graph) => Promise<number>,
  options: PruneOptions & { readonly log?: (line: string) => void } = {},
): Promise<PruneResult & { readonly latencyMs: number }> {
  const config = parsePruneConfig(configInput, "prune");
  if (!config.budget || !("latencyMs" in config.budget)) throw new CompileError("prune: pruneToLatency needs a latencyMs budget");
  const target = config.budget.latencyMs;
  const prepared = prepare(graph, config, options);
  let last = Infinity;
  for (let f = 0; f <= MAX_FRACTION + 1e-9; f += config.latencyStep) {
    const result = finish(prepared, keepGlobal(prepared.analysis, prepared.scores, Math.min(f, MAX_FRACTION), config.granularity));
    last = await measure(result.graph);
    options.log?.(`  drop ${(100 * f).toFixed(0)}% of prunable channels: ${last.toFixed(2)} ms (target ${target} ms)`);
    if (last <= target) return { ...result, summary: `${result.summary}, ${last.toFixed(2)} ms (target ${target} ms)`, latencyMs: last };
  }
  throw new CompileError(`prune: latency budget ${target} ms is out of reach: ${last.toFixed(2)} ms after dropping ${100 * MAX_FRACTION}% of the prunable channels`);
}

interface Prepared {
  readonly graph: Graph;
  readonly config: PruneConfig;
  readonly analysis: Analysis;
  readonly scores: readonly Float64Array[];
  readonly notes: readonly string[];
  readonly before: Cost;
}

function prepare(graph: Graph, config: PruneConfig, options: PruneOptions): Prepared {
  const analysis = findGroups(graph);
  if (config.importance === "taylor" && !options.taylor) throw new CompileError("prune: importance taylor needs Taylor scores (see compiler/prune/taylor.ts)");
  const { scores, notes } = unitScores(graph, analysis, { ...config, ...options });
  for (const rule of config.layers) {
    const group = analysis.groups.find((g) => g.producers.some((p) => matchesLayer(rule.match, p)));
    if (!group) throw new CompileError(`prune: layers: "${rule.match}" matches no layer`);
    if (group.locked && rule.ratio > 0) throw new CompileError(`prune: layers: "${rule.match}" cannot be pruned: ${group.locked}`);
  }
  return { graph, config, analysis, scores, notes, before: graphCost(graph) };
}

function finish(p: Prepared, keep: Keep): PruneResult {
  const graph = applyKeep(p.graph, p.analysis, keep);
  const after = graphCost(graph);
  const groups: GroupReport[] = p.analysis.groups.map((g, i) => ({
    producers: g.producers,
    channels: g.units.length,
    kept: keep[i].reduce((n, k) => n + k, 0),
    members: g.members,
    ...(g.locked && { locked: g.locked }),
  }));
  const pruned = groups.filter((g) => g.kept < g.channels);
  const dropped = groups.reduce((n, g) => n + g.channels - g.kept, 0);
  const total = groups.reduce((n, g) => n + g.channels, 0);
  const locked = groups.filter((g) => g.locked).length;
  const fmt = (n: number) => n.toLocaleString("en-US");
  const summary =
    `pruned ${fmt(dropped)} of ${fmt(total)} channels in ${pruned.length} of ${groups.length} groups (${p.config.importance}, ${p.config.aggregate})` +
    `: params ${fmt(p.before.params)} -> ${fmt(after.params)}, MACs ${fmt(p.before.macs)} -> ${fmt(after.macs)}` +
    (locked ? `; ${locked} groups locked` : "") +
    (p.notes.length ? `; ${p.notes.length} groups scored by L1 instead` : "");
  return { graph, summary, groups, before: p.before, after, analysis: p.analysis, keep };
}

/** prune as a pass for runPasses. */
export function prunePass(config: PruneConfigInput, options: PruneOptions = {}): Pass {
  return { name: "prune", run: (graph) => prune(graph, config, options) };
}
