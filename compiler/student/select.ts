// Choosing a student from the X3D-S family for a budget: enumerate a small
// grid of (width, depth, frames, crop), count each candidate's multiply-adds
// and parameters from its graph, and take the most capable one (most
// multiply-adds) that fits. A latency budget is checked by measurement in
// onnxruntime-web, biggest candidates first, until one fits.
import { z } from "zod";
import { CompileError } from "../errors.ts";
import { buildX3d, SPATIAL_STRIDE, x3dCost, type X3dCandidate } from "./x3d.ts";
import { measureLatency } from "../measure/in-process.ts";

const positive = z.number().positive();
const list = (item: z.ZodNumber) => z.array(item).min(1).max(12);

export const StudentConfigSchema = z
  .object({
    budget: z
      .object({
        macs: positive.optional().describe("most multiply-adds per clip"),
        params: positive.optional().describe("most trainable parameters"),
        bytes: positive.optional().describe("most bytes of fp32 weights (4 per parameter)"),
        latencyMs: positive.optional().describe("most milliseconds per clip in onnxruntime-web (wasm, one thread, fp32), measured here"),
      })
      .strict()
      .refine((b) => Object.keys(b).length > 0, "give at least one of macs, params, bytes, latencyMs"),
    grid: z
      .object({
        widthFactor: list(z.number().positive().max(8)).default([0.5, 1, 1.5, 2]),
        depthFactor: list(z.number().positive().max(8)).default([1, 1.6, 2.2]),
        // Frames and crops above the teacher's are left out: the student's clips are cut from the teacher's.
        frames: list(z.number().int().min(1).max(256)).default([4, 8, 13]),
        crop: list(z.number().int().min(SPATIAL_STRIDE).max(1024)).default([112, 128, 160]),
        headDimOut: list(z.number().int().min(8).max(8192)).default([2048]),
      })
      .strict()
      .prefault({})
      .describe("the candidates: every combination (X3D-S is width 2, depth 2.2, 13 frames, crop 160, head 2048)"),
    latency: z
      .object({ runs: z.number().int().min(1).max(100).default(3), warmup: z.number().int().min(0).max(10).default(1) })
      .strict()
      .prefault({}),
  })
  .strict();
export type StudentConfig = z.infer<typeof StudentConfigSchema>;

export interface Considered extends X3dCandidate {
  readonly macs: number;
  readonly params: number;
  readonly bytes: number;
  /** Measured only for candidates within the static budgets, biggest first, until one fits. */
  readonly latencyMs?: number;
  readonly fits: boolean;
  /** Which budget it breaks (empty when it fits or was not measured). */
  readonly over: readonly string[];
}

export interface StudentChoice {
  readonly chosen: Considered;
  readonly considered: readonly Considered[];
}

export interface Limits {
  /** The teacher's clip: students take at most its frames and crop. */
  readonly frames: number;
  readonly crop: number;
  readonly classes: number;
}

function combinations(grid: StudentConfig["grid"], limits: Limits): X3dCandidate[] {
  const out: X3dCandidate[] = [];
  for (const widthFactor of grid.widthFactor)
    for (const depthFactor of grid.depthFactor)
      for (const frames of grid.frames.filter((f) => f <= limits.frames))
        for (const crop of grid.crop.filter((c) => c <= limits.crop))
          for (const headDimOut of grid.headDimOut) out.push({ widthFactor, depthFactor, frames, crop, headDimOut });
  return out;
}

/** Picks the candidate with the most multiply-adds within every budget; throws CompileError when none fits. */
export async function chooseStudent(config: StudentConfig, limits: Limits, log: (line: string) => void = () => {}): Promise<StudentChoice> {
  const { budget } = config;
  const candidates = combinations(config.grid, limits);
  if (candidates.length === 0) {
    throw new CompileError(`student: no grid candidate fits the teacher's clip (${limits.frames} frames, crop ${limits.crop}); lower grid.frames or grid.crop`);
  }
  const counted: Considered[] = candidates
    .map((c) => {
      const { macs, params } = x3dCost(buildX3d(c, limits.classes));
      const over = [
        ...(budget.macs !== undefined && macs > budget.macs ? ["macs"] : []),
        ...(budget.params !== undefined && params > budget.params ? ["params"] : []),
        ...(budget.bytes !== undefined && 4 * params > budget.bytes ? ["bytes"] : []),
      ];
      return { ...c, macs, params, bytes: 4 * params, fits: over.length === 0, over };
    })
    .sort((a, b) => b.macs - a.macs || b.params - a.params);
  const considered = [...counted];
  if (budget.latencyMs !== undefined) {
    for (const [i, c] of counted.entries()) {
      if (!c.fits) continue;
      const latencyMs = await measureLatency(buildX3d(c, limits.classes, "random"), { ...config.latency, runtime: "web" });
      const fits = latencyMs <= budget.latencyMs;
      log(`  measured ${describe(c)}: ${latencyMs.toFixed(1)} ms${fits ? "" : " (over)"}`);
      considered[i] = { ...c, latencyMs, fits, over: fits ? [] : ["latencyMs"] };
      if (fits) break;
    }
  }
  const chosen = considered.find((c) => c.fits && (budget.latencyMs === undefined || c.latencyMs !== undefined));
  if (!chosen) {
    const smallest = counted.at(-1)!;
    throw new CompileError(
      `student: no candidate meets the budget ${JSON.stringify(budget)}; the smallest, ${describe(smallest)}, has ` +
        `${smallest.macs.toLocaleString("en-US")} MACs and ${smallest.params.toLocaleString("en-US")} params` +
        (considered.at(-1)!.latencyMs !== undefined ? ` and runs in ${considered.at(-1)!.latencyMs!.toFixed(1)} ms` : "") +
        "; add smaller values to student.grid or raise the budget",
    );
  }
  return { chosen, considered };
}

export function describe(c: X3dCandidate): string {
  return `x3d w${c.widthFactor} d${c.depthFactor} ${c.frames}x${c.crop}x${c.crop} head ${c.headDimOut}`;
}

/** The table of candidates considered, biggest first; the chosen one marked. */
export function candidateTable(choice: StudentChoice): string {
  const header = ["", "width", "depth", "frames", "crop", "head", "MACs", "params", "MB fp32", "wasm ms", "fits"];
  const rows = choice.considered.map((c) => [
    c === choice.chosen ? "*" : "",
    String(c.widthFactor),
    String(c.depthFactor),
    String(c.frames),
    String(c.crop),
    String(c.headDimOut),
    c.macs.toLocaleString("en-US"),
    c.params.toLocaleString("en-US"),
    (c.bytes / 1e6).toFixed(2),
    c.latencyMs === undefined ? "-" : c.latencyMs.toFixed(1),
    c.fits ? (c.latencyMs === undefined && choice.chosen.latencyMs !== undefined ? "?" : "yes") : `over ${c.over.join(",")}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((cell, i) => (i >= 6 && i <= 9 ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}
