// A set of model inputs on disk: a directory of .npy float32 arrays, each one
// clip [C,T,H,W] or a batch [N,C,T,H,W] in the model's input layout (NCTHW),
// already normalized as the manifest says. Optional `labels.txt` beside them:
// one line per file, `<file.npy> <label>[,<label>...]` (one label per clip,
// index or name). The same format serves calibration and the held-out set.
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { CompileError } from "../errors.ts";
import type { Dim, Tensor } from "../ir/index.ts";
import { parseNpy } from "./npy.ts";

export interface Clip {
  /** The file and, for a batch, the clip's index in it: "a.npy[3]". */
  readonly source: string;
  /** One clip, [1,C,T,H,W]. */
  readonly input: Tensor;
  /** The label's index, when labels.txt gives one. */
  readonly label?: number;
}

export interface ClipInput {
  readonly name: string;
  /** The model input's shape; the batch dim (first) may be symbolic. */
  readonly shape: readonly Dim[];
}

/** Reads every clip in `dir`, checking each file against the model input; clear errors name the file. */
export async function readClips(dir: string, input: ClipInput, labelNames: readonly string[] = []): Promise<Clip[]> {
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) throw new CompileError(`${dir}: calibration/evaluation data not found (expected a directory of .npy clips)`);
  const files = (await readdir(dir)).filter((f) => f.endsWith(".npy")).sort();
  const expected = `[${["N", ...input.shape.slice(1)].join(",")}] or [${input.shape.slice(1).join(",")}] float32 (input %${input.name})`;
  if (files.length === 0) throw new CompileError(`${dir}: no .npy clips; expected files of ${expected}`);
  const labels = await readLabels(dir, labelNames);
  const clips: Clip[] = [];
  for (const file of files) {
    const path = join(dir, file);
    let array;
    try {
      array = parseNpy(new Uint8Array(await readFile(path)));
    } catch (e) {
      throw new CompileError(`${path}: ${(e as Error).message}; expected ${expected}`);
    }
    const shape = array.shape.length === input.shape.length - 1 ? [1, ...array.shape] : array.shape;
    const fits = shape.length === input.shape.length && shape.every((d, i) => i === 0 || typeof input.shape[i] !== "number" || input.shape[i] === d);
    if (!fits) throw new CompileError(`${path}: shape [${array.shape}], expected ${expected}`);
    if (shape[0] === 0) throw new CompileError(`${path}: empty (shape [${array.shape}]); expected ${expected}`);
    const fileLabels = labels.get(file);
    if (fileLabels && fileLabels.length !== shape[0]) {
      throw new CompileError(`${join(dir, "labels.txt")}: ${file} has ${fileLabels.length} labels for ${shape[0]} clips`);
    }
    const per = array.data.length / shape[0];
    for (let n = 0; n < shape[0]; n++) {
      const data = array.data.slice(n * per, (n + 1) * per);
      if (!data.every(Number.isFinite)) throw new CompileError(`${path}: clip ${n} has NaN or infinite values`);
      clips.push({
        source: shape[0] === 1 ? path : `${path}[${n}]`,
        input: { name: input.name, dtype: "float32", dims: [1, ...shape.slice(1)], data },
        ...(fileLabels && { label: fileLabels[n] }),
      });
    }
  }
  return clips;
}

async function readLabels(dir: string, names: readonly string[]): Promise<Map<string, number[]>> {
  const path = join(dir, "labels.txt");
  const text = await readFile(path, "utf8").catch(() => undefined);
  const labels = new Map<string, number[]>();
  if (text === undefined) return labels;
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    const [file, list, ...rest] = line.trim().split(/\s+/);
    if (!list || rest.length) throw new CompileError(`${path}:${i + 1}: expected "<file.npy> <label>[,<label>...]", got "${line}"`);
    labels.set(file, list.split(",").map((l) => {
      const index = /^\d+$/.test(l) ? Number(l) : names.indexOf(l);
      if (index < 0) throw new CompileError(`${path}:${i + 1}: unknown label "${l}" (labels: ${names.join(", ")})`);
      return index;
    }));
  });
  return labels;
}
