// H.264 keyframes → YUV 4:2:0 planes, with FFmpeg's decoder compiled to wasm
// (worker/decoder/build.sh; SYSTEM.md: bit-exact with ffmpeg on High, Main and
// Baseline). One wasm instance per isolate, made on first use: Cloudflare gives
// a Worker 1 s to start, and workerd refuses to compile wasm bytes at run time,
// so the module arrives compiled through wrangler's CompiledWasm rule.
import h264Wasm from "../../decoder/build/h264.wasm";
import { serverError, userError } from "../errors.ts";
import { LIMITS } from "../limits.ts";
import { trackWasmMemory } from "../memory.ts";
import type { Yuv420 } from "../yuv.ts";
import { WasiExit, wasiImports } from "./wasi.ts";

/** One decoded picture, 8-bit 4:2:0: u and v are ceil(width/2) × ceil(height/2). */
export type YuvFrame = Yuv420;

export interface H264Decoder {
  /**
   * Decodes one sync sample (length-prefixed NAL units as stored in MP4) on its
   * own. The planes are views into one buffer that the next decodeKeyframe of
   * any decoder in the isolate overwrites: use the picture, or copy it, first.
   */
  decodeKeyframe(sample: Uint8Array, what?: string): YuvFrame;
  /** Frees the decoder's wasm memory; the decoder is unusable afterwards. */
  close(): void;
}

interface Exports {
  memory: WebAssembly.Memory;
  _initialize(): void;
  h264_malloc(size: number): number;
  h264_free(ptr: number): void;
  h264_create(avcc: number, size: number, maxPixels: number): number;
  h264_packet(decoder: number, size: number): number;
  h264_decode(decoder: number): number;
  h264_frame_info(decoder: number): number;
  h264_pix_fmt(decoder: number): number;
  h264_error_text(): number;
  h264_failure(): number;
  h264_release(decoder: number): void;
  h264_destroy(decoder: number): void;
}

// Why h264_create or h264_decode failed (h264-glue.c): the input's fault (-1), or the heap's limit.
const FAILED_MEMORY = -2;
const outOfMemory = () => serverError("decoder_out_of_memory", "the H.264 decoder is out of memory; try again shortly", 503);

const ACCEPTED = "MP4 with H.264 video in 8-bit 4:2:0 (Baseline, Main or High profile)";
// yuvj420p is yuv420p with full-range levels: the same planes.
const PLANAR_420 = new Set(["yuv420p", "yuvj420p"]);

let instance: Promise<Exports> | null = null;
/** What `instance` resolved to. */
let live: Exports | undefined;
/** Instances that trapped: their heap may be inconsistent. */
const dead = new WeakSet<Exports>();

function wasmInstance(): Promise<Exports> {
  if (instance) return instance;
  const starting = (async () => {
    let exports: Exports | undefined;
    const imports = wasiImports(() => {
      if (!exports) throw new Error("h264.wasm touched memory before instantiation finished");
      return exports.memory;
    });
    const made = await WebAssembly.instantiate(h264Wasm, imports);
    exports = made.exports as unknown as Exports;
    exports._initialize();
    trackWasmMemory("h264", exports.memory);
    return (live = exports);
  })();
  // A failed start is retried by the next request rather than cached.
  starting.catch(() => {
    if (instance === starting) instance = null;
  });
  instance = starting;
  return starting;
}

/** Bytes of the decoder's wasm memory (it grows and never shrinks): for logs and tests. */
export async function h264MemoryBytes(): Promise<number> {
  return (await wasmInstance()).memory.buffer.byteLength;
}

/**
 * Runs a call into the module. A trap or exit() (a bug in FFmpeg or the glue;
 * running out of memory is an error return, not a trap) can leave the heap
 * half-updated, so the instance is dropped and the next request gets a fresh
 * one; decoders of the old instance refuse further work.
 */
function guarded<T>(wasm: Exports, what: string, call: () => T): T {
  if (dead.has(wasm)) throw serverError("decoder_restarted", "the H.264 decoder was restarted; send the request again", 503);
  try {
    return call();
  } catch (e) {
    if (!(e instanceof WebAssembly.RuntimeError || e instanceof WasiExit)) throw e;
    dead.add(wasm);
    if (live === wasm) {
      instance = null;
      live = undefined;
    }
    throw userError(422, "corrupt_video", `${what} stopped the H.264 decoder (${e.message})`, ACCEPTED);
  }
}

function cString(wasm: Exports, ptr: number): string {
  const bytes = new Uint8Array(wasm.memory.buffer, ptr);
  return new TextDecoder().decode(bytes.subarray(0, bytes.indexOf(0)));
}

/** A decoder for one H.264 track, configured by its avcC (AVCDecoderConfigurationRecord). */
export async function createH264Decoder(avcC: Uint8Array): Promise<H264Decoder> {
  const wasm = await wasmInstance();
  const handle = guarded(wasm, "the avcC record", () => {
    const ptr = wasm.h264_malloc(Math.max(avcC.length, 1));
    if (ptr === 0) throw outOfMemory();
    new Uint8Array(wasm.memory.buffer, ptr, avcC.length).set(avcC);
    const decoder = wasm.h264_create(ptr, avcC.length, LIMITS.framePixels);
    wasm.h264_free(ptr);
    if (decoder === 0) {
      if (wasm.h264_failure() === FAILED_MEMORY) throw outOfMemory();
      const why = cString(wasm, wasm.h264_error_text());
      throw userError(422, "corrupt_video", `the H.264 decoder configuration (avcC) was refused: ${why}`, ACCEPTED);
    }
    return decoder;
  });
  let open = true;
  return {
    decodeKeyframe(sample, what = "a keyframe") {
      if (!open) throw new Error("decodeKeyframe after close");
      return guarded(wasm, what, () => decode(wasm, handle, sample, what));
    },
    close() {
      if (!open) return;
      open = false;
      if (!dead.has(wasm)) wasm.h264_destroy(handle);
    },
  };
}

let planesBuffer = new Uint8Array(0);

/** The reused picture buffer, grown (never shrunk) to `bytes`. */
function pictureBuffer(bytes: number): Uint8Array {
  if (planesBuffer.length < bytes) planesBuffer = new Uint8Array(bytes);
  return planesBuffer;
}

function decode(wasm: Exports, handle: number, sample: Uint8Array, what: string): YuvFrame {
  if (sample.length === 0) throw userError(422, "corrupt_video", `${what} is an empty sample`, ACCEPTED);
  const packet = wasm.h264_packet(handle, sample.length);
  if (packet === 0) throw outOfMemory();
  new Uint8Array(wasm.memory.buffer, packet, sample.length).set(sample);
  const failed = wasm.h264_decode(handle);
  if (failed === FAILED_MEMORY) throw outOfMemory();
  if (failed < 0) {
    const why = cString(wasm, wasm.h264_error_text());
    throw userError(422, "corrupt_video", `${what} could not be decoded: ${why}`, ACCEPTED);
  }
  try {
    const format = cString(wasm, wasm.h264_pix_fmt(handle));
    if (!PLANAR_420.has(format)) {
      throw userError(415, "unsupported_pixel_format", `the video's pictures are ${format}; only 8-bit 4:2:0 is decoded`, ACCEPTED);
    }
    // width, height, data[0..2], linesize[0..2] (h264-glue.c); FFmpeg gives U and V one stride.
    const [width, height, y, u, v, strideY, strideU] = new Int32Array(wasm.memory.buffer, wasm.h264_frame_info(handle), 8);
    // Copied out of the wasm heap (the next decode reuses FFmpeg's buffers, and
    // memory may grow), into one buffer reused from picture to picture rather
    // than a fresh copy each time: per-picture garbage is what memory peaks are made of.
    const chromaRows = (height + 1) >> 1;
    const luma = strideY * height;
    const chroma = strideU * chromaRows;
    const planes = pictureBuffer(luma + 2 * chroma);
    const heap = new Uint8Array(wasm.memory.buffer);
    const copy = (from: number, at: number, bytes: number) => {
      const out = planes.subarray(at, at + bytes);
      out.set(heap.subarray(from, from + bytes));
      return out;
    };
    return { width, height, y: copy(y, 0, luma), u: copy(u, luma, chroma), v: copy(v, luma + chroma, chroma), strideY, strideUV: strideU };
  } finally {
    wasm.h264_release(handle);
  }
}
