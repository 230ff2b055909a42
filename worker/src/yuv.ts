// Decoded YUV 4:2:0 pixels → 8-bit RGB, with the arithmetic of the conversion
// the Python trainer's frames go through: PyAV's to_ndarray(format="rgb24")
// (and OpenCV's VideoCapture) call libswscale, whose yuv420p → rgb24 path for
// even heights on x86 (ff_yuv_420_rgb24_ssse3) is BT.601 limited range in
// 16-bit fixed point with nearest (not interpolated) chroma. Reproducing that
// integer arithmetic gives the trainer's RGB bytes exactly rather than within
// a few levels (a float BT.601 formula differs by up to 3). Odd heights take
// swscale's generic path, which interpolates chroma: there the bytes differ
// slightly.

/** One decoded 8-bit 4:2:0 picture (the decoder's YuvFrame). */
export interface Yuv420 {
  width: number;
  height: number;
  y: Uint8Array;
  u: Uint8Array;
  v: Uint8Array;
  strideY: number;
  /** Stride of both chroma planes, each ceil(width/2) × ceil(height/2) samples. */
  strideUV: number;
}

// libswscale's ff_yuv2rgb_coeffs for BT.601 ({crv, cbu, cgu, cgv}, 16.16) and
// ff_yuv2rgb_c_init_tables' derivation of the SIMD coefficients: luma scaled by
// 255/219 and offset by 16 (limited range), each rounded to 16-bit at 2^13.
const round16 = (f: number) => Math.floor((f + 32768) / 65536);
const CY = round16(Math.floor((65536 * 255) / 219) * 8192); // 9539
const Y_OFFSET = round16((16 << 16) * 8); // 128
const VR = round16(104597 * 8192);
const UB = round16(132201 * 8192);
const UG = round16(-25675 * 8192);
const VG = round16(-53279 * 8192);

// The SIMD code works on samples shifted left by 3 and multiplies with
// pmulhw ((a·b) >> 16, rounding down): one table per term, indexed by sample.
const mulhi = (a: number, b: number) => (a * b) >> 16;
const table = (f: (s: number) => number) => Int32Array.from({ length: 256 }, (_, s) => f(s));
const Y_TERM = table((s) => mulhi(8 * s - Y_OFFSET, CY));
const V_TO_R = table((s) => mulhi(8 * s - 1024, VR));
const U_TO_G = table((s) => mulhi(8 * s - 1024, UG));
const V_TO_G = table((s) => mulhi(8 * s - 1024, VG));
const U_TO_B = table((s) => mulhi(8 * s - 1024, UB));

/** Rejects planes too small for the picture they claim (a decoder bug, not user input). */
export function checkYuv420(frame: Yuv420): void {
  const { width, height, strideY, strideUV } = frame;
  const cw = (width + 1) >> 1;
  const ch = (height + 1) >> 1;
  if (strideY < width || strideUV < cw) throw new Error(`YUV strides ${strideY}/${strideUV} are below the width ${width}`);
  if (frame.y.length < (height - 1) * strideY + width) throw new Error(`the Y plane has ${frame.y.length} bytes for ${width}×${height}`);
  for (const p of [frame.u, frame.v]) {
    if (p.length < (ch - 1) * strideUV + cw) throw new Error(`a chroma plane has ${p.length} bytes for ${width}×${height}`);
  }
}

/**
 * Rows of a YUV picture converted to RGB on demand, only at the given columns:
 * row(i, slot) answers a width×4 byte row (pixel x's channel c at x·4 + c, the
 * layout of an RGBA image) valid until the next call with the same slot. Two
 * slots let a bilinear filter hold its upper and lower source rows at once;
 * each slot remembers its last row, so consecutive output rows that share a
 * source row convert it once.
 */
export class YuvRows {
  private readonly buffers: Uint8ClampedArray[];
  private readonly cached = [-1, -1];

  constructor(
    private readonly frame: Yuv420,
    private readonly columns: Int32Array,
  ) {
    checkYuv420(frame);
    this.buffers = [new Uint8ClampedArray(frame.width * 4), new Uint8ClampedArray(frame.width * 4)];
  }

  row(i: number, slot: 0 | 1): Uint8ClampedArray {
    const out = this.buffers[slot];
    if (this.cached[slot] === i) return out;
    const { y, u, v, strideY, strideUV } = this.frame;
    const yRow = i * strideY;
    const cRow = (i >> 1) * strideUV;
    for (const x of this.columns) {
      const luma = Y_TERM[y[yRow + x]];
      const cu = u[cRow + (x >> 1)];
      const cv = v[cRow + (x >> 1)];
      // The clamped array saturates like packuswb.
      out[x * 4] = luma + V_TO_R[cv];
      out[x * 4 + 1] = luma + U_TO_G[cu] + V_TO_G[cv];
      out[x * 4 + 2] = luma + U_TO_B[cu];
    }
    this.cached[slot] = i;
    return out;
  }
}
