// Calibration/evaluation data on disk: what is read, and the errors a user
// gets for missing, empty, or mis-shaped data (each names the file and the
// shape the model expects).
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CompileError } from "../errors.ts";
import { readClips } from "./clips.ts";
import { encodeNpy } from "./npy.ts";

const input = { name: "video", shape: ["batch", 3, 2, 4, 4] };
const clip = (n: number) => new Float32Array(n * 3 * 2 * 4 * 4).map((_, i) => i / 100);

async function dir(files: Record<string, Uint8Array | string>): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "edgevid-clips-"));
  for (const [name, data] of Object.entries(files)) await writeFile(join(d, name), data);
  return d;
}

describe("readClips", () => {
  it("reads single clips and batches, one [1,C,T,H,W] tensor per clip, with labels by index or name", async () => {
    const d = await dir({
      "a.npy": encodeNpy([3, 2, 4, 4], clip(1)),
      "b.npy": encodeNpy([2, 3, 2, 4, 4], clip(2)),
      "labels.txt": "a.npy 1\nb.npy left,0\n",
    });
    const clips = await readClips(d, input, ["left", "right"]);
    expect(clips.map((c) => [c.source.slice(d.length + 1), c.label, c.input.dims.join("x")])).toEqual([
      ["a.npy", 1, "1x3x2x4x4"],
      ["b.npy[0]", 0, "1x3x2x4x4"],
      ["b.npy[1]", 0, "1x3x2x4x4"],
    ]);
    expect((clips[2].input.data as Float32Array)[0]).toBeCloseTo(96 / 100);
  });

  const cases: [string, () => Promise<string>, RegExp][] = [
    ["a missing directory", async () => "/nonexistent/calib", /^\/nonexistent\/calib: calibration\/evaluation data not found/],
    ["a directory without clips", () => dir({ "notes.txt": "x" }), /: no \.npy clips; expected files of \[N,3,2,4,4\] or \[3,2,4,4\] float32 \(input %video\)$/],
    ["a clip of the wrong shape", () => dir({ "c.npy": encodeNpy([3, 2, 8, 8], new Float32Array(384)) }), /c\.npy: shape \[3,2,8,8\], expected \[N,3,2,4,4\]/],
    ["an empty batch", () => dir({ "e.npy": encodeNpy([0, 3, 2, 4, 4], new Float32Array(0)) }), /e\.npy: empty \(shape \[0,3,2,4,4\]\)/],
    ["float64 data", () => dir({ "d.npy": Buffer.from(Buffer.from(encodeNpy([3, 2, 4, 4], clip(1))).toString("latin1").replace("<f4", "<f8"), "latin1") }), /d\.npy: dtype <f8, expected float32/],
    ["a file that is not .npy", () => dir({ "x.npy": "hello" }), /x\.npy: not a \.npy file/],
    ["a truncated file", () => dir({ "t.npy": encodeNpy([3, 2, 4, 4], clip(1)).slice(0, 200) }), /t\.npy: shape \[3,2,4,4\] needs 384 data bytes, the file has \d+/],
    ["NaN values", () => dir({ "n.npy": encodeNpy([3, 2, 4, 4], clip(1).fill(NaN, 5, 6)) }), /n\.npy: clip 0 has NaN or infinite values/],
    ["labels that do not match the clips", () => dir({ "b.npy": encodeNpy([2, 3, 2, 4, 4], clip(2)), "labels.txt": "b.npy 1\n" }), /labels\.txt: b\.npy has 1 labels for 2 clips/],
    ["an unknown label", () => dir({ "a.npy": encodeNpy([3, 2, 4, 4], clip(1)), "labels.txt": "a.npy up\n" }), /labels\.txt:1: unknown label "up" \(labels: left, right\)/],
  ];
  it.each(cases)("refuses %s with a CompileError naming the file", async (_, make, message) => {
    const d = await make();
    const error = await readClips(d, input, ["left", "right"]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CompileError);
    expect((error as Error).message).toMatch(message);
  });
});
