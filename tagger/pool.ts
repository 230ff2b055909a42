// K clip workers (clip-worker.ts) fed from one queue of batches: whichever
// worker is free takes the next batch, so videos of any length share them.
import { Worker } from "node:worker_threads";
import type { ClipResult } from "../worker/src/jobs/schema.ts";
import { TagError } from "./node-model.ts";
import type { BatchTask, FromWorker, WorkerInit } from "./protocol.ts";

export type BatchOutcome = { ok: true; results: ClipResult[] } | { ok: false; code: string; message: string };

type Work = Omit<BatchTask, "type" | "task">;

interface Pending {
  work: Work;
  resolve(outcome: BatchOutcome): void;
}

interface Slot {
  worker: Worker;
  busy?: { task: number; pending: Pending };
}

export class ClipPool {
  private readonly queue: Pending[] = [];
  private nextTask = 0;
  private closing = false;

  private constructor(private readonly slots: Slot[]) {
    for (const slot of slots) this.listen(slot);
  }

  static async start(count: number, init: WorkerInit): Promise<ClipPool> {
    const slots = Array.from({ length: count }, () => ({
      worker: new Worker(new URL("./clip-worker.mjs", import.meta.url), { workerData: init }),
    }));
    try {
      await Promise.all(slots.map(({ worker }) => ready(worker)));
    } catch (error) {
      await Promise.all(slots.map(({ worker }) => worker.terminate()));
      throw error;
    }
    return new ClipPool(slots);
  }

  /** Classifies one batch of one video's clips; a failure is an outcome, not a rejection. */
  run(work: Work): Promise<BatchOutcome> {
    return new Promise((resolve) => {
      this.queue.push({ work, resolve });
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.slots.map(({ worker }) => worker.terminate()));
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (slot.busy || this.queue.length === 0) continue;
      const pending = this.queue.shift()!;
      const task = this.nextTask++;
      slot.busy = { task, pending };
      const message: BatchTask = { type: "batch", task, ...pending.work };
      slot.worker.postMessage(message);
    }
  }

  private listen(slot: Slot): void {
    const settle = (outcome: BatchOutcome) => {
      const busy = slot.busy!;
      slot.busy = undefined;
      busy.pending.resolve(outcome);
      this.dispatch();
    };
    slot.worker.on("message", (message: FromWorker) => {
      if (message.type === "done" && message.task === slot.busy?.task) settle({ ok: true, results: message.results });
      else if (message.type === "failed" && message.task === slot.busy?.task) settle({ ok: false, code: message.code, message: message.message });
    });
    // A worker that dies (out of memory, a bug) fails its batch and leaves the
    // pool; when none is left, the queued batches fail rather than wait forever.
    let crash = "";
    slot.worker.on("error", (error) => (crash = `: ${error.message}`));
    slot.worker.on("exit", (code) => {
      if (this.closing) return;
      this.slots.splice(this.slots.indexOf(slot), 1);
      const why = `a clip worker exited with code ${code}${crash}`;
      if (slot.busy) settle({ ok: false, code: "worker_exited", message: why });
      if (this.slots.length === 0) for (const p of this.queue.splice(0)) p.resolve({ ok: false, code: "worker_exited", message: why });
    });
  }
}

function ready(worker: Worker): Promise<void> {
  return new Promise((resolve, reject) => {
    worker.once("message", (message: FromWorker) => {
      if (message.type === "ready") resolve();
      else reject(new TagError(message.type === "fatal" ? message.message : `unexpected ${message.type} from a clip worker`));
    });
    worker.once("error", (error) => reject(new TagError(`a clip worker failed to start: ${error.message}`)));
  });
}
