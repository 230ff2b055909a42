// What one request may ask of an isolate (128 MB memory, CPU time per request).
export const LIMITS = {
  /** Request body; overridable with the MAX_BODY_BYTES var. Workers cap bodies near 100 MB anyway. */
  bodyBytes: 32 * 1024 * 1024,
  /** Frames uploaded, or keyframes per clip of a video. */
  frames: 64,
  /** Clips per video: each is one model run. */
  clips: 32,
  /** Clips per video of a tagging job (POST /v1/jobs), spread over queue consumers: 2 s clips back to back over 2 h. */
  jobClips: 3600,
  frameSide: 4096,
  // A decoded frame is width·height·4 bytes in the decoder's wasm heap and again
  // as a JS copy: 8 Mi pixels is 2 × 32 MiB, which still leaves room for ORT inside
  // 128 MB. That admits 4K UHD (3840×2160) but not 4096×4096.
  framePixels: 8 * 1024 * 1024,
  /** MP4 videos: longest accepted (long-video tagging; classify may pass a smaller one). */
  videoSeconds: 3 * 60 * 60,
  // Indexing peaks near 220 B per sample (mp4box's sample objects; Node,
  // worker/scripts/bench-mp4-index.ts), the index keeps ~100 B: 150k samples peak ~33 MB, beside ORT's
  // wasm memory. That is 83 min at 30 fps or 3 h at 14 fps; longer high-rate
  // videos need a leaner sample table than mp4box's.
  videoSamples: 150_000,
  /** moov plus every moof handed to mp4box; a 3 h 30 fps moov is ~5 MB. */
  videoMetadataBytes: 24 * 1024 * 1024,
  /** Top-level boxes walked: each may cost a range read. */
  videoBoxes: 50_000,
  // Per-isolate admission (admission.ts). The budget is what admitted requests
  // may hold beside ORT's and the decoder's wasm memories (~30 MB for models
  // up to 1 GMAC, one decoder context) and the bundle's own heap, inside 128 MB.
  admission: {
    bytes: 48 * 1024 * 1024,
    /** Held by every admitted request besides its body: the MP4 index, the samples read, clip tensors. */
    reserveBytes: 8 * 1024 * 1024,
    /** Requests waiting for admission; one more is a 503 busy. Waiting ones hold no body yet (it is read once admitted). */
    queue: 64,
    waitSeconds: 15,
  },
  /** A URL whose server ignores Range may still be read whole up to this size. */
  urlWholeBodyBytes: 8 * 1024 * 1024,
} as const;

/** The largest accepted request body: the MAX_BODY_BYTES var, else LIMITS.bodyBytes. */
export const maxBodyBytes = (env: { MAX_BODY_BYTES?: string }): number => Number(env.MAX_BODY_BYTES) || LIMITS.bodyBytes;
