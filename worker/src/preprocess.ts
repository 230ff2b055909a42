// Frames (RGBA images, or decoded YUV pictures converted as the trainer's
// decoder does: yuv.ts) → the model's NCTHW float32 input, exactly as
// training's eval transform:
//   pixel/255 → ShortSideScale (torch.nn.functional.interpolate, bilinear,
//   align_corners=False, antialias=False) → CenterCrop → (x − mean)/std.
// Resize and crop are fused: only the cropped pixels of the resized image are
// computed. Arithmetic follows torch's float32 CPU kernel step by step
// (Math.fround after every operation), so results match torch to float32
// rounding rather than merely being close.
import type { InputSpec } from "../../contract/manifest.ts";
import { uniformIndices } from "../../contract/sampling.ts";
import type { Rgba } from "./frames.ts";
import { YuvRows, type Yuv420 } from "./yuv.ts";

const f = Math.fround;

/**
 * ShortSideScale's output size: the short side becomes `size`, the long side
 * floor(long·size/short) in integer arithmetic, as training does
 * (training/videotrain/transforms.py; PyTorchVideo's float floor((long/short)·size)
 * can be one less, e.g. 17×7 at 182).
 */
export function resizedSize(width: number, height: number, size: number): { width: number; height: number } {
  // Exact: the product is an integer far below 2^53, and a float quotient just
  // under an integer is at least 1/short away from it.
  if (width < height) return { width: size, height: Math.floor((height * size) / width) };
  return { width: Math.floor((width * size) / height), height: size };
}

/** Centre-crop offset into the resized image (PyTorchVideo uniform_crop: ceil((n − crop)/2)). */
function cropOffset(resized: number, crop: number): number {
  return Math.ceil((resized - crop) / 2);
}

/** For each output position along one axis: the two source pixels and their weights. */
interface Taps {
  i0: Int32Array;
  i1: Int32Array;
  w0: Float32Array;
  w1: Float32Array;
}

// torch's compute_indices_weights_linear with align_corners=False, in float32:
// scale = in/out, src = max(scale·(dst + 0.5) − 0.5, 0), i0 = min(floor(src), in − 1),
// i1 = i0 + 1 unless at the edge, w1 = clamp(src − i0, 0, 1), w0 = 1 − w1.
function taps(inSize: number, outSize: number, offset: number, count: number): Taps {
  const scale = f(inSize / outSize);
  const t: Taps = {
    i0: new Int32Array(count),
    i1: new Int32Array(count),
    w0: new Float32Array(count),
    w1: new Float32Array(count),
  };
  for (let k = 0; k < count; k++) {
    const src = Math.max(f(f(scale * f(k + offset + 0.5)) - 0.5), 0);
    const i0 = Math.min(Math.floor(src), inSize - 1);
    const w1 = Math.min(Math.max(f(src - i0), 0), 1);
    t.i0[k] = i0;
    t.i1[k] = i0 < inSize - 1 ? i0 + 1 : i0;
    t.w1[k] = w1;
    t.w0[k] = f(1 - w1);
  }
  return t;
}

// pixel/255 in float32, as `uint8_tensor.float() / 255.0`.
const UNIT = Float32Array.from({ length: 256 }, (_, p) => p / 255);

/** Which received frame fills each of the model's T slots: the training's temporal subsample. */
export function frameSlots(received: number, frames: number): number[] {
  return uniformIndices(received, frames);
}

// Clip buffers are reused across clips and requests: a 13×160² clip is 4 MB,
// and allocating one per clip leaves garbage that memory peaks are made of.
// Every slot of a clip is written before it is run, so a reused buffer needs no clearing.
const SPARE_BUFFERS = 4;
const spare: Float32Array[] = [];

function clipBuffer(length: number): Float32Array {
  const at = spare.findIndex((b) => b.length === length);
  return at >= 0 ? spare.splice(at, 1)[0] : new Float32Array(length);
}

/** Gives a clip's buffer back once its model run is done; the tensor must not be used afterwards. */
export function recycle(tensor: ClipTensor): void {
  if (spare.includes(tensor.data)) return;
  spare.unshift(tensor.data);
  spare.length = Math.min(spare.length, SPARE_BUFFERS);
}

/**
 * The model input for frames of one size: [1, 3, T, crop, crop] float32, filled
 * one frame at a time (RGBA images or decoded YUV pictures) so that only one
 * decoded frame needs to be alive.
 */
export class ClipTensor {
  readonly data: Float32Array;
  readonly dims: readonly number[];
  private readonly rows: Taps;
  private readonly cols: Taps;
  /** The source columns the horizontal taps read: all a YUV frame needs converted. */
  private readonly columns: Int32Array;
  private readonly mean: number[];
  private readonly std: number[];

  constructor(
    private readonly spec: InputSpec,
    readonly width: number,
    readonly height: number,
  ) {
    const crop = spec.cropSize;
    const resized = resizedSize(width, height, spec.shortSideSize);
    this.rows = taps(height, resized.height, cropOffset(resized.height, crop), crop);
    this.cols = taps(width, resized.width, cropOffset(resized.width, crop), crop);
    this.columns = Int32Array.from(new Set([...this.cols.i0, ...this.cols.i1]));
    this.mean = spec.mean.map(f);
    this.std = spec.std.map(f);
    this.dims = [1, 3, spec.frames, crop, crop];
    this.data = clipBuffer(3 * spec.frames * crop * crop);
  }

  /** Writes an RGBA `frame` into time slot `t` (0 ≤ t < T). */
  setFrame(t: number, frame: Rgba): void {
    this.checkSize(frame);
    const rowBytes = frame.width * 4;
    this.fill(t, (i) => frame.data.subarray(i * rowBytes, (i + 1) * rowBytes));
  }

  /**
   * Writes a decoded YUV 4:2:0 picture into time slot `t`: colour conversion
   * fused with the resize and crop, converting only the source pixels the
   * filter reads (no full RGB frame is built).
   */
  setFrameYuv(t: number, frame: Yuv420): void {
    this.checkSize(frame);
    const rows = new YuvRows(frame, this.columns);
    this.fill(t, (i, slot) => rows.row(i, slot));
  }

  /** Time slot `t` as the model sees it: the crop, un-normalized back to 8-bit RGB (cropSize² · 3 bytes). */
  slotRgb(t: number): Uint8Array {
    const { data, spec } = this;
    const plane = spec.cropSize * spec.cropSize;
    const frames = spec.frames;
    // Clamped: the un-normalized values may fall a little outside 0..255.
    const rgb = new Uint8ClampedArray(plane * 3);
    for (let c = 0; c < 3; c++) {
      const base = (c * frames + t) * plane;
      const scale = this.std[c] * 255;
      const shift = this.mean[c] * 255;
      for (let i = 0; i < plane; i++) rgb[i * 3 + c] = data[base + i] * scale + shift;
    }
    return new Uint8Array(rgb.buffer);
  }

  private checkSize(frame: { width: number; height: number }): void {
    if (frame.width !== this.width || frame.height !== this.height) {
      throw new Error(`frame is ${frame.width}×${frame.height}, the clip is ${this.width}×${this.height}`);
    }
  }

  /** Resize + crop + normalize of one frame whose rows `row` hands out in RGBA layout. */
  private fill(t: number, row: (i: number, slot: 0 | 1) => ArrayLike<number>): void {
    const { data, spec, rows, cols } = this;
    const crop = spec.cropSize;
    const plane = crop * crop;
    for (let y = 0; y < crop; y++) {
      const upper = row(rows.i0[y], 0);
      const lower = row(rows.i1[y], 1);
      const wy0 = rows.w0[y];
      const wy1 = rows.w1[y];
      for (let c = 0; c < 3; c++) {
        const mean = this.mean[c];
        const std = this.std[c];
        let out = (c * spec.frames + t) * plane + y * crop;
        for (let x = 0; x < crop; x++) {
          const a = cols.i0[x] * 4 + c;
          const b = cols.i1[x] * 4 + c;
          const wx0 = cols.w0[x];
          const wx1 = cols.w1[x];
          // torch order: interpolate along W on each of the two rows, then along H.
          const top = f(f(UNIT[upper[a]] * wx0) + f(UNIT[upper[b]] * wx1));
          const bottom = f(f(UNIT[lower[a]] * wx0) + f(UNIT[lower[b]] * wx1));
          const v = f(f(top * wy0) + f(bottom * wy1));
          data[out++] = f(v - mean) / std;
        }
      }
    }
  }
}
