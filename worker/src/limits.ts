// What one request may ask of an isolate (128 MB memory, CPU time per request).
export const LIMITS = {
  /** Request body; overridable with the MAX_BODY_BYTES var. Workers cap bodies near 100 MB anyway. */
  bodyBytes: 32 * 1024 * 1024,
  frames: 64,
  frameSide: 4096,
  // A decoded frame is width·height·4 bytes in the decoder's wasm heap and again
  // as a JS copy: 8 Mi pixels is 2 × 32 MiB, which still leaves room for ORT inside
  // 128 MB. That admits 4K UHD (3840×2160) but not 4096×4096.
  framePixels: 8 * 1024 * 1024,
} as const;
