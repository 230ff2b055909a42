// Test inputs for the quantizer: clips that look like the synthetic dataset
// (textured frames moving over time, normalized as the manifest says) rather
// than white noise, whose activation statistics no real clip has.
import { seededRandom } from "../random.ts";
import type { Clip } from "./clips.ts";

export function movingClips(count: number, shape: readonly number[], seed: number, inputName = "video"): Clip[] {
  const [, channels, frames, height, width] = shape;
  const random = seededRandom(seed);
  return Array.from({ length: count }, (_, n) => {
    const [fx, fy] = [1 + random() * 4, 1 + random() * 4];
    const [vx, vy] = [(random() - 0.5) * 0.6, (random() - 0.5) * 0.6];
    const phase = random() * 6.28;
    const data = new Float32Array(channels * frames * height * width);
    let i = 0;
    for (let c = 0; c < channels; c++) {
      for (let t = 0; t < frames; t++) {
        for (let y = 0; y < height; y++) {
          for (let x = 0; x < width; x++) {
            const u = (x / width + vx * t) * fx * 6.28;
            const v = (y / height + vy * t) * fy * 6.28;
            const pixel = 0.5 + 0.4 * Math.sin(u + phase + c) * Math.cos(v) + 0.05 * (random() - 0.5);
            data[i++] = (pixel - 0.45) / 0.225;
          }
        }
      }
    }
    return { source: `moving-${seed}-${n}`, input: { name: inputName, dtype: "float32", dims: [1, channels, frames, height, width], data } };
  });
}
