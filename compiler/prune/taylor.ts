// Taylor importance from the training engine: `videotrain taylor` runs the
// graph being pruned (through its ONNX importer) on a few training batches
// and writes |activation x gradient| per channel of every conv output.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { z } from "zod";
import { CompileError } from "../errors.ts";
import { encodeModel, type Model } from "../ir/index.ts";
import { runTaylor } from "../engine.ts";
import type { TaylorScores } from "./importance.ts";

const scoresFile = z.object({ scores: z.record(z.string(), z.array(z.number())) });

/** Reads the engine's scores.json. */
export async function readTaylorScores(path: string): Promise<TaylorScores> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new CompileError(`${path}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file (Taylor scores)" : (e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const parsed = scoresFile.safeParse(json);
  if (!parsed.success) throw new CompileError(`${path}: not a Taylor scores file ({"scores": {value: [number per channel]}})`);
  return new Map(Object.entries(parsed.data.scores));
}

export interface TaylorRun {
  /** The graph to score: the one that will be pruned (value names must match). */
  readonly model: Model;
  /** Its manifest (labels, input spec, sampling plan). */
  readonly manifestPath: string;
  /** A dataset directory, as `videotrain train --data`. */
  readonly data: string;
  readonly batches?: number;
  readonly batchSize?: number;
  readonly threads?: number;
  /** The engine's progress lines (default: none). */
  readonly log?: (line: string) => void;
}

export async function computeTaylorScores(run: TaylorRun): Promise<TaylorScores> {
  const dir = await mkdtemp(join(tmpdir(), "edgevid-taylor-"));
  try {
    const modelPath = join(dir, "model.onnx");
    const out = join(dir, "scores.json");
    await writeFile(modelPath, encodeModel(run.model));
    await runTaylor(
      { model: modelPath, manifest: resolve(run.manifestPath), data: resolve(run.data), out, batches: run.batches ?? 4, batchSize: run.batchSize ?? 4, threads: run.threads ?? 1 },
      { progress: run.log ?? (() => {}) },
    );
    return await readTaylorScores(out);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
