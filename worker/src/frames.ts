// Uploaded frames: identify the format from magic bytes, read the dimensions from
// the header (to refuse absurd sizes before decoding anything), decode to RGBA.
// The decoders' wasm arrives compiled (CompiledWasm rule): Workers refuse to
// compile wasm from bytes at run time.
import decodeJpeg, { init as initJpegUntyped } from "@jsquash/jpeg/decode";
import jpegWasm from "@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm";
import decodePng, { init as initPng } from "@jsquash/png/decode";
// @ts-expect-error The package's .d.ts for this file types the instance's exports; the CompiledWasm rule hands over the module.
import pngWasm from "@jsquash/png/codec/pkg/squoosh_png_bg.wasm";
import { userError } from "./errors.ts";
import { LIMITS } from "./limits.ts";

export type FrameType = "jpeg" | "png";

export interface FrameHeader {
  type: FrameType;
  width: number;
  height: number;
}

export interface Rgba {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
}

export const ACCEPTED_FRAMES = `JPEG or PNG images (sniffed from their bytes), at most ${LIMITS.frameSide} pixels a side and ${LIMITS.framePixels} pixels in all, every frame the same size`;

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function startsWith(bytes: Uint8Array, prefix: number[], at = 0): boolean {
  return bytes.length >= at + prefix.length && prefix.every((b, i) => bytes[at + i] === b);
}

export function sniffType(bytes: Uint8Array): FrameType | null {
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return "jpeg";
  if (startsWith(bytes, PNG_SIGNATURE)) return "png";
  return null;
}

/** A hint for the error message when the bytes are a format we know but do not take. */
function describeOther(bytes: Uint8Array): string {
  const ascii = (at: number, n: number) => String.fromCharCode(...bytes.subarray(at, at + n));
  if (ascii(4, 4) === "ftyp") return 'an MP4/QuickTime video (send videos as the "video" field or as a video/mp4 body)';
  if (ascii(0, 3) === "GIF") return "a GIF image";
  if (ascii(0, 4) === "RIFF" && ascii(8, 4) === "WEBP") return "a WebP image";
  return "not a JPEG or PNG image";
}

// Start-of-frame markers carry the image size; C4 (DHT), C8 (JPG) and CC (DAC) share the range.
const isStartOfFrame = (m: number) => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;

function jpegSize(b: Uint8Array): { width: number; height: number } | null {
  let i = 2;
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) return null;
    const marker = b[i + 1];
    if (marker === 0xff) {
      i += 1; // fill byte
      continue;
    }
    i += 2;
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) continue; // markers without a length
    if (marker === 0xd9 || marker === 0xda) return null; // end of image / scan before any frame header
    const length = (b[i] << 8) | b[i + 1];
    if (length < 2) return null;
    if (isStartOfFrame(marker)) {
      if (i + 7 > b.length) return null;
      return { height: (b[i + 3] << 8) | b[i + 4], width: (b[i + 5] << 8) | b[i + 6] };
    }
    i += length;
  }
  return null;
}

function pngSize(b: Uint8Array): { width: number; height: number } | null {
  // The first chunk must be IHDR (13 bytes): width and height as big-endian u32.
  if (b.length < 24 || !startsWith(b, [0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52], 8)) return null;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

/** Format and size from the header alone; a user error if either is unacceptable. */
export function inspectFrame(bytes: Uint8Array, what: string): FrameHeader {
  if (bytes.length === 0) {
    throw userError(400, "empty_frame", `${what} is an empty file`, ACCEPTED_FRAMES);
  }
  const type = sniffType(bytes);
  if (type === null) {
    throw userError(415, "unsupported_frame_type", `${what} is ${describeOther(bytes)}`, ACCEPTED_FRAMES);
  }
  const size = type === "jpeg" ? jpegSize(bytes) : pngSize(bytes);
  if (size === null || size.width === 0 || size.height === 0) {
    throw userError(400, "corrupt_frame", `${what}: the ${type.toUpperCase()} header is damaged or has no image size`, ACCEPTED_FRAMES);
  }
  const { width, height } = size;
  if (width > LIMITS.frameSide || height > LIMITS.frameSide || width * height > LIMITS.framePixels) {
    throw userError(413, "frame_too_large", `${what} is ${width}×${height}`, ACCEPTED_FRAMES);
  }
  return { type, width, height };
}

// libjpeg reports why it failed through emscripten's printErr; keep the lines of
// the current decode for the error message instead of printing them.
let jpegMessages: string[] = [];
let jpegReady = false;

function initJpeg(): void {
  // The package's .d.ts lags its JS: init(module, overrides) takes the compiled module first.
  const init = initJpegUntyped as unknown as (module: WebAssembly.Module, overrides: object) => Promise<void>;
  void init(jpegWasm, { printErr: (line: string) => jpegMessages.push(line), print: () => {} });
  jpegReady = true;
}

async function decodeJpegFrame(bytes: ArrayBuffer, what: string): Promise<Rgba> {
  if (!jpegReady) initJpeg();
  jpegMessages = [];
  try {
    return await decodeJpeg(bytes);
  } catch {
    // A libjpeg error unwinds past its cleanup; a fresh decoder instance lets
    // the old heap (and anything it leaked) be collected.
    jpegReady = false;
    const why = jpegMessages.join("; ") || "decoder error";
    throw userError(400, "corrupt_frame", `${what}: the JPEG could not be decoded (${why})`, ACCEPTED_FRAMES);
  }
}

async function decodePngFrame(bytes: ArrayBuffer, what: string): Promise<Rgba> {
  await initPng(pngWasm as WebAssembly.Module);
  try {
    return await decodePng(bytes);
  } catch {
    // The decoder's own message is an internal `unwrap_throw`: nothing a client can act on.
    throw userError(400, "corrupt_frame", `${what}: the PNG could not be decoded (damaged or truncated data)`, ACCEPTED_FRAMES);
  }
}

/** Decodes to 8-bit RGBA; the decoded size must be the size the header announced. */
export async function decodeFrame(bytes: ArrayBuffer, header: FrameHeader, what: string): Promise<Rgba> {
  const image = header.type === "jpeg" ? await decodeJpegFrame(bytes, what) : await decodePngFrame(bytes, what);
  if (image.width !== header.width || image.height !== header.height) {
    throw userError(
      400,
      "corrupt_frame",
      `${what}: the header says ${header.width}×${header.height} but the image decodes to ${image.width}×${image.height}`,
      ACCEPTED_FRAMES,
    );
  }
  return image;
}
