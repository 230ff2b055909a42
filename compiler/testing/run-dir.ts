// Writes what training leaves behind for the compiler: a run dir with
// teacher.onnx and a manifest.json whose sha256 matches it.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseManifest, type Manifest } from "../../contract/manifest.ts";
import { sha256Hex } from "../artifact.ts";
import { encodeModel, type Model } from "../ir/index.ts";
import { VIDEO_MODEL_DEFAULTS } from "./video-model.ts";

function teacherManifest(modelBytes: Uint8Array): Manifest {
  const { frames, size, classes, inputName, outputName } = VIDEO_MODEL_DEFAULTS;
  return parseManifest({
    schemaVersion: 1,
    id: "test-video",
    version: "3",
    architecture: "x3d-test",
    labels: Array.from({ length: classes }, (_, i) => `class_${i}`),
    model: { file: "teacher.onnx", sha256: sha256Hex(modelBytes), bytes: modelBytes.length, opset: 17 },
    input: {
      name: inputName, layout: "NCTHW", dtype: "float32", frames, cropSize: size, shortSideSize: size + 2,
      mean: [0.45, 0.45, 0.45], std: [0.225, 0.225, 0.225], pixelScale: 255, channelOrder: "RGB",
    },
    output: { name: outputName, kind: "logits" },
    sampling: { clipSampler: { kind: "constant_clips_per_video", clipsPerVideo: 2 }, clipDuration: 2, frames, frameSelector: "uniform" },
    provenance: {
      parent: null,
      passes: [{ name: "train", params: { epochs: 1 } }],
      dataset: { name: "synthetic-motion", seed: 0, classes },
      createdBy: "videotrain test",
      createdAt: "2026-01-02T03:04:05Z",
    },
    metrics: { "val.top1": 0.75 },
  });
}

/** Writes dir/teacher.onnx and dir/manifest.json; `edit` may change the manifest first. */
export async function writeRunDir(dir: string, model: Model, edit: (m: Manifest) => unknown = (m) => m): Promise<Manifest> {
  const bytes = encodeModel(model);
  const manifest = teacherManifest(bytes);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "teacher.onnx"), bytes);
  await writeFile(join(dir, "manifest.json"), JSON.stringify(edit(manifest), null, 2));
  return manifest;
}
