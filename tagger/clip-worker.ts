// A clip worker (worker_threads): its own onnxruntime-node session and H.264
// wasm instance; classifies the batches the main thread sends, one at a time,
// with the queue consumer's classifyPlannedClips. Started through clip-worker.mjs.
import { parentPort, workerData } from "node:worker_threads";
import { classifyPlannedClips } from "../worker/src/classify-clips.ts";
import { ApiError } from "../worker/src/errors.ts";
import { openFileSource, type FileSource } from "./file-source.ts";
import { loadModel, type NodeModel } from "./node-model.ts";
import type { BatchTask, FromWorker, WorkerInit } from "./protocol.ts";

const port = parentPort!;
const init = workerData as WorkerInit;
const send = (message: FromWorker) => port.postMessage(message);

// Batches arrive video by video: the last two videos' files stay open.
const OPEN_FILES = 2;
const files = new Map<string, Promise<FileSource>>();

function file(path: string): Promise<FileSource> {
  let entry = files.get(path);
  if (!entry) {
    entry = openFileSource(path);
    files.set(path, entry);
    entry.catch(() => files.delete(path));
    while (files.size > OPEN_FILES) {
      const [oldest, evicted] = files.entries().next().value!;
      files.delete(oldest);
      evicted.then((f) => f.close()).catch(() => undefined);
    }
  }
  return entry;
}

let model: NodeModel;
try {
  model = await loadModel(init.modelDir, init.threads);
  send({ type: "ready" });
} catch (error) {
  send({ type: "fatal", message: (error as Error).message });
  process.exit(1);
}

// One batch at a time: the pool sends the next only after this one's answer.
port.on("message", async (task: BatchTask) => {
  try {
    const results = await classifyPlannedClips(await file(task.path), task.avcC, task.samples, task.clips, model, init.topk);
    send({ type: "done", task: task.task, results });
  } catch (error) {
    const code = error instanceof ApiError ? error.code : "internal_error";
    send({ type: "failed", task: task.task, code, message: (error as Error).message });
  }
});
