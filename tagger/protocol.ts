// Messages between the CLI's main thread (planning, outputs) and its clip
// workers (decode + inference).
import type { KeyframeRef } from "../worker/src/jobs/batches.ts";
import type { ClipResult, PlannedClip } from "../worker/src/jobs/schema.ts";

export interface WorkerInit {
  modelDir: string;
  threads: number;
  topk: number;
}

/**
 * One batch of one video's clips, self-contained like a queue message
 * (worker/src/jobs/batches.ts): the byte ranges of its keyframes and the
 * decoder configuration, so a worker reads only those ranges and never indexes.
 */
export interface BatchTask {
  type: "batch";
  task: number;
  path: string;
  avcC: Uint8Array;
  clips: PlannedClip[];
  samples: KeyframeRef[];
}

export type FromWorker =
  | { type: "ready" }
  | { type: "fatal"; message: string }
  | { type: "done"; task: number; results: ClipResult[] }
  | { type: "failed"; task: number; code: string; message: string };
