// onnxruntime's quantize_static run on our model and calibration clips
// (quantize_static.py, in the project's Python environment): the peer our
// quantizer is compared with.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { defaultPython } from "../../training/python.ts";
import { CompileError } from "../errors.ts";

const SCRIPT = fileURLToPath(new URL("./quantize_static.py", import.meta.url));

export interface PeerOptions {
  readonly activation?: "uint8" | "int8";
  readonly method?: "minmax" | "percentile" | "entropy";
  readonly python?: string;
}

const PeerResult = z.object({ out: z.string(), bytes: z.number().int().positive(), clips: z.number().int().positive() });
export type PeerResult = z.infer<typeof PeerResult>;

/** Writes `out`, the model quantized by onnxruntime (QDQ, per-channel int8 weights). */
export function peerQuantize(model: string, clipsDir: string, out: string, options: PeerOptions = {}): PeerResult {
  const { activation = "uint8", method = "minmax", python = defaultPython() } = options;
  const r = spawnSync(python, [SCRIPT, model, clipsDir, out, "--activation", activation, "--method", method], { encoding: "utf8" });
  if (r.status !== 0) {
    const lines = `${r.stderr ?? ""}${r.error?.message ?? ""}`.trim().split("\n");
    const said = [...lines].reverse().find((l) => l.startsWith("error: ")) ?? lines.at(-1);
    throw new CompileError(`onnxruntime quantize_static on ${model} with ${clipsDir} failed: ${said?.replace(/^error: /, "")}`);
  }
  return PeerResult.parse(JSON.parse(r.stdout.trim().split("\n").at(-1)!));
}
