// Quantization parameters. Activations: uint8 asymmetric (scale, zero point
// from the range) or int8 symmetric (zero point 0). Weights: int8 symmetric,
// per output channel where the op allows it, [-127, 127] (7 bits, [-63, 63],
// with reduceRange: the headroom U8S8 kernels without VNNI need so that
// pairwise int16 sums do not saturate). Biases: int32 at input scale x weight scale.
import { z } from "zod";
import type { Tensor } from "../ir/index.ts";
import type { Range } from "./ranges.ts";

export const ActivationType = z.enum(["uint8", "int8"]);
export type ActivationType = z.infer<typeof ActivationType>;

export interface ActivationParams {
  readonly scale: number;
  readonly zeroPoint: number;
  readonly type: ActivationType;
}

export function activationParams(range: Range, type: ActivationType): ActivationParams {
  const min = Math.min(range.min, 0);
  const max = Math.max(range.max, 0);
  if (type === "int8") {
    const top = Math.max(-min, max);
    return { scale: top > 0 ? Math.fround(top / 127) : 1, zeroPoint: 0, type };
  }
  if (max === min) return { scale: 1, zeroPoint: 0, type };
  const scale = Math.fround((max - min) / 255);
  return { scale, zeroPoint: Math.min(255, Math.max(0, Math.round(-min / scale))), type };
}

export interface QuantizedWeight {
  readonly data: Int8Array;
  /** One per channel along `axis`, or one for the whole tensor when axis is undefined. */
  readonly scales: Float32Array;
  readonly axis?: number;
}

export function quantizeWeight(w: Tensor, axis: number | undefined, reduceRange: boolean): QuantizedWeight {
  const x = w.data as Float32Array;
  const qmax = reduceRange ? 63 : 127;
  const channels = axis === undefined ? 1 : w.dims[axis];
  const inner = axis === undefined ? x.length : w.dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const channelOf = (i: number) => (axis === undefined ? 0 : Math.floor(i / inner) % channels);
  const top = new Float32Array(channels);
  for (let i = 0; i < x.length; i++) top[channelOf(i)] = Math.max(top[channelOf(i)], Math.abs(x[i]));
  const scales = top.map((t) => (t > 0 ? t / qmax : 1));
  const data = new Int8Array(x.length);
  for (let i = 0; i < x.length; i++) data[i] = Math.max(-qmax, Math.min(qmax, Math.round(x[i] / scales[channelOf(i)])));
  return { data, scales, ...(axis !== undefined && { axis }) };
}

/** int32 bias at scale inputScale x weightScale[c] (zero point 0), as QLinearConv and QGemm expect. */
export function quantizeBias(b: Tensor, inputScale: number, weightScales: Float32Array): { data: Int32Array; scales: Float32Array } {
  const x = b.data as Float32Array;
  const scales = Float32Array.from(x, (_, c) => inputScale * weightScales[weightScales.length === 1 ? 0 : c]);
  const data = Int32Array.from(x, (v, c) => Math.round(v / scales[c]));
  return { data, scales };
}
