// Malformed ONNX files: truncated, garbled and bit-flipped copies of real
// exports (seeded). Loading, shape inference and saving either work or throw
// an OnnxError that names the file; nothing else may escape.
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { seededRandom } from "../random.ts";
import { zooExport } from "../testing/zoo-export.ts";
import { videoModel } from "../testing/video-model.ts";
import { OnnxError } from "./errors.ts";
import { decodeModel, loadModel } from "./load.ts";
import { encodeModel } from "./save.ts";
import { inferShapes } from "./shapes.ts";

type Damage = "truncated" | "garbled" | "bit-flipped";

/** A damaged copy of `bytes`: cut short, a run of random bytes, or a few flipped bits. */
function damage(bytes: Uint8Array, kind: Damage, random: () => number): Uint8Array {
  const at = () => Math.floor(random() * bytes.length);
  if (kind === "truncated") return bytes.slice(0, at());
  const copy = new Uint8Array(bytes);
  if (kind === "garbled") {
    const start = at();
    for (let i = start; i < Math.min(copy.length, start + 1 + Math.floor(random() * 16)); i++) copy[i] = Math.floor(random() * 256);
  } else {
    for (let k = 0; k < 1 + Math.floor(random() * 4); k++) copy[at()] ^= 1 << Math.floor(random() * 8);
  }
  return copy;
}

/** "loaded" or "refused"; throws whatever is not an OnnxError naming `source`. */
function attempt(bytes: Uint8Array, source: string): "loaded" | "refused" {
  try {
    const model = decodeModel(bytes, source);
    try {
      inferShapes(model.graph, source);
    } catch (e) {
      if (!(e instanceof OnnxError)) throw e;
    }
    encodeModel(model);
    return "loaded";
  } catch (e) {
    if (e instanceof OnnxError && e.message.startsWith(`${source}: `)) return "refused";
    throw new Error(`${source}: escaped as ${(e as Error).name}: ${(e as Error).message}`, { cause: e });
  }
}

describe("malformed ONNX files", () => {
  it("truncated, garbled and bit-flipped exports load or fail with an OnnxError naming the file (seeded)", async () => {
    const sources = {
      "video-model": encodeModel(videoModel()),
      "mvit-torchscript": await readFile((await zooExport("mvit_v2_s", "tiny", "torchscript")).modelPath),
      "x3d-dynamo": await readFile((await zooExport("x3d", "tiny", "dynamo")).modelPath),
    };
    const random = seededRandom(2026);
    const tally: Record<string, number> = {};
    for (const [name, bytes] of Object.entries(sources)) {
      for (const kind of ["truncated", "garbled", "bit-flipped"] as const) {
        for (let i = 0; i < 40; i++) {
          const outcome = attempt(damage(bytes, kind, random), `${name}-${kind}-${i}.onnx`);
          tally[`${kind} ${outcome}`] = (tally[`${kind} ${outcome}`] ?? 0) + 1;
        }
      }
    }
    console.log("malformed files:", tally);
    // Both paths are taken: damage inside weights leaves a loadable model, damage to structure does not.
    expect(tally["truncated refused"]).toBeGreaterThan(100);
    expect((tally["bit-flipped loaded"] ?? 0) + (tally["garbled loaded"] ?? 0)).toBeGreaterThan(20);
    expect((tally["bit-flipped refused"] ?? 0) + (tally["garbled refused"] ?? 0)).toBeGreaterThan(20);
  }, 300_000);

  it("loadModel names the file on disk", async () => {
    const dir = await mkdtemp(join(tmpdir(), "edgevid-malformed-"));
    const path = join(dir, "cut.onnx");
    const bytes = encodeModel(videoModel());
    await writeFile(path, bytes.subarray(0, 200));
    await expect(loadModel(path)).rejects.toThrow(new RegExp(`^${path}: not a valid ONNX file`));
  });
});
