// Fine-tuning a pruned graph with distillation from the unpruned model:
// `videotrain finetune --config` through the engine's ONNX importer. The
// engine writes model.onnx + manifest.json (parent: the pruned model, passes:
// its passes + finetune) into `out`.
import { resolve } from "node:path";
import { runEngine, writeEngineConfig, type EngineResult } from "../engine.ts";

export interface FinetuneRun {
  /** The pruned artifact (model.onnx + manifest.json). */
  readonly model: { readonly onnx: string; readonly manifest: string };
  /** The unpruned model it distills from. */
  readonly teacher: { readonly onnx: string; readonly manifest: string };
  readonly data: string;
  /** A new directory for the engine's outputs. */
  readonly out: string;
  readonly epochs?: number;
  readonly batchSize?: number;
  /** Learning rate (the engine's finetune default, 5e-4, when absent). */
  readonly lr?: number;
  readonly threads?: number;
  readonly alpha?: number;
  readonly temperature?: number;
  readonly log?: (line: string) => void;
}

/** Runs the fine-tune; resolves with the engine's result event (outputs, metrics). */
export async function finetunePruned(run: FinetuneRun): Promise<EngineResult> {
  // Absolute paths: the engine reads relative ones from the config file's directory.
  const both = (m: { onnx: string; manifest: string }) => ({ onnx: resolve(m.onnx), manifest: resolve(m.manifest) });
  const config = {
    out: resolve(run.out),
    data: { dir: resolve(run.data) },
    model: both(run.model),
    teacher: both(run.teacher),
    distillation: { alpha: run.alpha ?? 0.7, temperature: run.temperature ?? 4 },
    train: { epochs: run.epochs ?? 5, batchSize: run.batchSize ?? 8, threads: run.threads ?? 1, workers: 0, ...(run.lr && { lr: run.lr }) },
  };
  const path = `${resolve(run.out)}.finetune.json`;
  await writeEngineConfig(path, config);
  return runEngine("finetune", path, { progress: run.log ?? (() => {}) });
}
