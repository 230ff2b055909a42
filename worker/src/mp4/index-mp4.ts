// Indexes an MP4 while reading as little of it as possible: the top-level box
// headers are walked (mdat is never read), ftyp/moov/moof are read whole and
// handed to mp4box, and every other box reaches mp4box as a bare mdat header so
// its view of the file stays contiguous (it stalls on gaps; it skips an mdat's
// body by design). moov may be anywhere; fragmented files list their samples in
// moof boxes. Every way a file can be unusable ends in a userError.
import { createFile, Log, MP4BoxBuffer, type ISOFile, type Sample, type VisualSampleEntry } from "mp4box";
import { type ApiError, userError } from "../errors.ts";
import { LIMITS } from "../limits.ts";
import { AvcError, PROFILE_NAMES, parseAvcC } from "./avc.ts";
import { BoxError, boxHeader, scanMoof, scanMoov, type BoxHeader, type MoovScan } from "./boxes.ts";
import { MeteredSource, type ByteSource } from "./source.ts";

// mp4box prints the parse errors it has no file for with console.error. A
// client's bad file is not a server error (the request log line says what was
// refused), so those lines go to the debug level; errors for a file still
// reach its onError.
const mp4boxError = Log.error.bind(Log);
Log.error = (module: string, message?: string, isofile?: ISOFile) => {
  if (isofile) mp4boxError(module, message, isofile);
  else console.debug(JSON.stringify({ mp4box: module, message }));
};

export interface Mp4Sample {
  /** Presentation time in seconds (edit list applied, as ffprobe shows it). */
  pts: number;
  /** Composition time and duration in timescale ticks (exact; no edit list). */
  cts: number;
  duration: number;
  offset: number;
  size: number;
  isSync: boolean;
}

export interface Mp4Index {
  durationSeconds: number;
  /** What indexing read from the source: bytes and range reads. */
  bytesRead: number;
  reads: number;
  video: {
    /** RFC 6381 codec string, e.g. "avc1.64001f". */
    codec: string;
    width: number;
    height: number;
    timescale: number;
    /** The AVCDecoderConfigurationRecord (avcC box body). */
    avcC: Uint8Array;
    profileIdc: number;
    bitDepth: number;
    /** Presentation order. */
    samples: Mp4Sample[];
  };
}

export interface Mp4Limits {
  maxSeconds: number;
  maxSamples: number;
  maxSide: number;
  maxPixels: number;
  maxMetadataBytes: number;
  maxBoxes: number;
}

export const MP4_LIMITS: Mp4Limits = {
  maxSeconds: LIMITS.videoSeconds,
  maxSamples: LIMITS.videoSamples,
  maxSide: LIMITS.frameSide,
  maxPixels: LIMITS.framePixels,
  maxMetadataBytes: LIMITS.videoMetadataBytes,
  maxBoxes: LIMITS.videoBoxes,
};

const ACCEPTED = "an MP4 (ISO BMFF) file with an H.264 video track: 8-bit 4:2:0, Baseline, Main or High profile";

/** Bytes read at a box boundary: the next few box headers (and small boxes) come in one read. */
const HEADER_WINDOW = 4096;

/** Top-level box types an MP4 may start with. */
const FIRST_BOXES = new Set(["ftyp", "styp", "moov", "mdat", "free", "skip", "wide", "pdin", "uuid"]);
/** ftyp major brands of still images (HEIF/AVIF), which are ISO BMFF but not videos. */
const IMAGE_BRANDS = new Set(["heic", "heix", "heim", "heis", "mif1", "avif"]);

const CODEC_NAMES: Record<string, string> = {
  hvc1: "HEVC (H.265, hvc1)",
  hev1: "HEVC (H.265, hev1)",
  dvh1: "Dolby Vision HEVC (dvh1)",
  dvhe: "Dolby Vision HEVC (dvhe)",
  vp09: "VP9 (vp09)",
  vp08: "VP8 (vp08)",
  av01: "AV1 (av01)",
  mp4v: "MPEG-4 Part 2 (mp4v)",
  encv: "encrypted video (encv)",
  avc2: "H.264 with SVC/MVC extensions (avc2)",
  mvc1: "H.264 MVC (mvc1)",
  jpeg: "Motion JPEG (jpeg)",
  mjp2: "Motion JPEG 2000 (mjp2)",
};

/** What a non-MP4 file looks like, from its first bytes. */
function sniff(b: Uint8Array): string | undefined {
  const ascii = (at: number, text: string) => [...text].every((c, i) => b[at + i] === c.charCodeAt(0));
  if (b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3) return "WebM/Matroska";
  if (ascii(0, "RIFF")) return ascii(8, "AVI ") ? "AVI" : "RIFF (WAV/WebP)";
  if (b[0] === 0x47 && b[188] === 0x47) return "MPEG transport stream";
  if (b[0] === 0 && b[1] === 0 && b[2] === 1 && b[3] === 0xba) return "MPEG program stream";
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "JPEG image";
  if (b[0] === 0x89 && ascii(1, "PNG")) return "PNG image";
  if (ascii(0, "GIF8")) return "GIF image";
  if (ascii(0, "OggS")) return "Ogg";
  if (ascii(0, "FLV")) return "Flash video (FLV)";
  if (ascii(0, "ID3") || (b[0] === 0xff && (b[1] & 0xe0) === 0xe0)) return "MP3 audio";
  if (ascii(0, "%PDF")) return "PDF document";
  if (b[0] === 0 && b[1] === 0 && b[2] === 0 && b[3] === 1) return "raw H.264 Annex B stream (no MP4 container)";
  return undefined;
}

interface Walked {
  file: ISOFile;
  /** The moov as handed to mp4box (other tracks renamed "free"). */
  moov: Uint8Array;
  moovStart: number;
  scan: MoovScan;
}

/** Reads through a window so that consecutive small reads (box headers) cost one range read. */
class Reader {
  private start = 0;
  private bytes: Uint8Array = new Uint8Array(0);
  constructor(readonly source: ByteSource) {}

  /** `length` bytes at `at` (caller keeps them in the file), reading `ahead` bytes from `at` if it must read. */
  async get(at: number, length: number, ahead: number): Promise<Uint8Array> {
    const end = this.start + this.bytes.length;
    if (at < this.start || at + length > end) {
      const want = Math.min(Math.max(at + length, at + ahead), this.source.size);
      if (at >= this.start && at < end) {
        // The window holds the beginning: read only the rest.
        const more = await this.source.read(end, want - end);
        const joined = new Uint8Array(want - at);
        joined.set(this.bytes.subarray(at - this.start));
        joined.set(more, end - at);
        this.bytes = joined;
      } else {
        this.bytes = await this.source.read(at, want - at);
      }
      this.start = at;
    }
    return this.bytes.subarray(at - this.start, at - this.start + length);
  }
}

async function walk(source: ByteSource, limits: Mp4Limits, bad: (status: 400 | 404 | 413 | 415 | 422, code: string, message: string) => ApiError): Promise<Walked> {
  const file = createFile(false);
  let mp4boxError: string | undefined;
  file.onError = (module: string, message?: string) => (mp4boxError ??= `${module}: ${message ?? ""}`);
  const feed = (bytes: Uint8Array, at: number) => {
    const copy = bytes.slice(); // mp4box keeps the buffer; the source's may be a view of the body
    try {
      file.appendBuffer(MP4BoxBuffer.fromArrayBuffer(copy.buffer, at));
    } catch (error) {
      // mp4box throws plain errors on malformed boxes it parses itself.
      throw bad(422, "corrupt_video", `its boxes could not be parsed (${(error as Error).message})`);
    }
  };
  const reader = new Reader(source);
  let moov: Omit<Walked, "file"> | undefined;
  let metadataBytes = 0;
  let sampleCount = 0;
  let ahead = HEADER_WINDOW;
  let boxes = 0;
  for (let offset = 0; offset < source.size; ) {
    if (++boxes > limits.maxBoxes) throw bad(422, "too_many_boxes", `more than ${limits.maxBoxes} top-level boxes`);
    const head = await reader.get(offset, Math.min(16, source.size - offset), ahead);
    let box: BoxHeader;
    try {
      box = boxHeader(head, 0, offset, source.size);
    } catch (error) {
      if (offset === 0) throw notMp4(await reader.get(0, Math.min(HEADER_WINDOW, source.size), HEADER_WINDOW));
      if (source.size - offset < 8) throw bad(422, "truncated_video", `the file ends inside a box header at byte ${offset}: it is truncated`);
      throw bad(422, "corrupt_video", (error as BoxError).message);
    }
    if (offset === 0 && !FIRST_BOXES.has(box.type)) throw notMp4(await reader.get(0, Math.min(HEADER_WINDOW, source.size), HEADER_WINDOW));
    if (box.start + box.size > source.size) {
      throw bad(422, "truncated_video", `the ${box.type} box at byte ${offset} needs ${box.size} bytes but the file ends at byte ${source.size}: it is truncated`);
    }
    if (box.type === "moov" || box.type === "moof" || box.type === "ftyp") {
      metadataBytes += box.size;
      if (metadataBytes > limits.maxMetadataBytes) {
        throw bad(422, "index_too_large", `its index boxes (moov/moof) exceed ${limits.maxMetadataBytes} bytes`);
      }
      // The next header rides along with the box.
      const bytes = (await reader.get(offset, box.size, box.size + 16)).slice();
      // A last box may say "to the end of the file" (size 0); mp4box wants the number.
      if (box.headerSize === 8 && new DataView(bytes.buffer).getUint32(0) === 0) new DataView(bytes.buffer).setUint32(0, box.size);
      try {
        if (box.type === "ftyp" && IMAGE_BRANDS.has(String.fromCharCode(...bytes.subarray(8, 12)))) {
          throw bad(415, "not_a_video", `it is a still image (HEIF/AVIF brand ${String.fromCharCode(...bytes.subarray(8, 12))}), not a video`);
        }
        if (box.type === "moov") {
          if (moov) throw bad(422, "corrupt_video", `a second moov box at byte ${offset}`);
          const scan = scanMoov(bytes);
          sampleCount += scan.sampleCount;
          moov = { moov: bytes, moovStart: offset, scan };
        } else if (box.type === "moof") {
          if (!moov) throw bad(422, "corrupt_video", `a movie fragment (moof) at byte ${offset} comes before the moov box`);
          sampleCount += scanMoof(bytes, moov.scan.trackId);
          // Fragments come one after another and look alike: after an mdat, read
          // what the next moof and its mdat header likely need, in one go.
          ahead = 2 * box.size + 32;
        }
      } catch (error) {
        if (!(error instanceof BoxError)) throw error;
        if (error.message === "no video track") throw bad(422, "no_video_track", "it has no video track (audio only?)");
        throw bad(422, "corrupt_video", `its ${box.type} box at byte ${offset} is corrupt: ${error.message}`);
      }
      if (sampleCount > limits.maxSamples) throw bad(422, "too_many_samples", `its video track has more than ${limits.maxSamples} samples`);
      feed(bytes, offset);
    } else {
      // mdat and any other box (free, skip, uuid, sidx, mfra, meta…) reach mp4box
      // as a bare mdat header of the same size, which it skips without reading.
      feed(mdatHeader(box.size), offset);
    }
    offset += box.size;
  }
  if (mp4boxError !== undefined) throw bad(422, "corrupt_video", `its boxes could not be parsed (${mp4boxError})`);
  if (!moov || !file.moov) {
    throw bad(422, "no_moov", "it has no moov box (the sample index): a recording that was not finished, or not a complete MP4");
  }
  return { file, ...moov };

  function notMp4(start: Uint8Array): ApiError {
    const looksLike = sniff(start);
    return bad(415, "not_mp4", looksLike ? `it is not an MP4 but looks like ${looksLike}` : "it is not an MP4 (no ISO BMFF box structure at its start)");
  }
}

/** An mdat box header for a box of `size` bytes (a 64-bit size only where needed). */
function mdatHeader(size: number): Uint8Array {
  const large = size >= 2 ** 32;
  const header = new Uint8Array(large ? 16 : 8);
  const view = new DataView(header.buffer);
  view.setUint32(0, large ? 1 : size);
  header.set([0x6d, 0x64, 0x61, 0x74], 4); // "mdat"
  if (large) view.setBigUint64(8, BigInt(size));
  return header;
}

/** Sample presentation times from mp4box's cts, with the track's edit list applied. */
function presentationOffset(file: ISOFile, trak: NonNullable<ISOFile["moov"]>["traks"][number]): { mediaTime: number; delay: number } {
  let delay = 0;
  for (const entry of trak.edts?.elst?.entries ?? []) {
    // Leading empty edits (media_time −1) delay the track, in movie timescale units.
    if (entry.media_time === -1) delay += entry.segment_duration / file.moov!.mvhd.timescale;
    else return { mediaTime: entry.media_time, delay };
  }
  return { mediaTime: 0, delay };
}

/**
 * Indexes the MP4 in `source`: its H.264 video track's samples (presentation
 * order, with byte ranges and sync flags), size, codec and decoder config.
 */
export async function indexMp4(input: ByteSource, overrides: Partial<Mp4Limits> = {}): Promise<Mp4Index> {
  const limits = { ...MP4_LIMITS, ...overrides };
  const source = new MeteredSource(input);
  const bad = (status: 400 | 404 | 413 | 415 | 422, code: string, message: string) => userError(status, code, `${source.what}: ${message}`, ACCEPTED);
  if (source.size === 0) throw bad(400, "empty_video", "it is empty (0 bytes)");

  const walked = await walk(source, limits, bad);
  const { file, moov, moovStart } = walked;
  const trak = file.moov!.traks[0];
  const entry = trak?.mdia?.minf?.stbl?.stsd?.entries?.[0] as VisualSampleEntry | undefined;
  if (!entry) throw bad(422, "corrupt_video", "its video track has no sample description");
  if (entry.type !== "avc1" && entry.type !== "avc3") {
    const name = CODEC_NAMES[entry.type] ?? `"${entry.type}"`;
    throw bad(415, "unsupported_codec", `its video is ${name}; only H.264 (avc1/avc3) is decoded`);
  }
  if (!entry.avcC) throw bad(422, "corrupt_video", "its H.264 track has no decoder configuration (avcC)");
  // The record's raw bytes, cut from the moov by the box's file position.
  const { start = NaN, hdr_size = NaN, size } = entry.avcC;
  const avcC = moov.slice(start - moovStart + hdr_size, start - moovStart + size);
  let config;
  try {
    config = parseAvcC(avcC);
  } catch (error) {
    if (!(error instanceof AvcError)) throw error;
    throw bad(422, "corrupt_video", `its H.264 decoder configuration (avcC) is corrupt: ${error.message}`);
  }
  const profile = PROFILE_NAMES[config.profileIdc] ?? `profile ${config.profileIdc}`;
  if (config.bitDepth !== 8) {
    throw bad(415, "unsupported_bit_depth", `its H.264 video is ${config.bitDepth}-bit (${profile}); only 8-bit is decoded`);
  }
  if (config.chromaFormat !== 1) {
    const chroma = ["monochrome (4:0:0)", "4:2:0", "4:2:2", "4:4:4"][config.chromaFormat] ?? `chroma format ${config.chromaFormat}`;
    throw bad(415, "unsupported_chroma", `its H.264 video is ${chroma} (${profile}); only 4:2:0 is decoded`);
  }

  const { width, height } = entry;
  if (!(width > 0 && height > 0) || width > limits.maxSide || height > limits.maxSide || width * height > limits.maxPixels) {
    throw bad(422, "bad_dimensions", `its video is ${width}×${height}; accepted are 1 to ${limits.maxSide} pixels a side and at most ${limits.maxPixels} pixels`);
  }

  const timescale = trak.mdia.mdhd.timescale;
  if (!(timescale > 0)) throw bad(422, "corrupt_video", "its video track has a zero timescale");
  const { mediaTime, delay } = presentationOffset(file, trak);
  // RFC 6381: sample entry type, then the avcC's profile, constraint flags and level in hex.
  const codec = `${entry.type}.${[...avcC.subarray(1, 4)].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
  // mp4box's sample objects (~200 B each) are dropped one by one as the index's
  // are made, so that the two lists never peak together.
  const listed: (Sample | undefined)[] = trak.samples ?? [];
  trak.samples = [];
  const samples: Mp4Sample[] = [];
  let end = -Infinity;
  for (let i = 0; i < listed.length; i++) {
    const s = listed[i]!;
    listed[i] = undefined;
    if (!(Number.isSafeInteger(s.offset) && Number.isSafeInteger(s.size) && s.size > 0 && s.offset + s.size <= source.size)) {
      throw bad(422, "corrupt_sample_table", `its sample table puts sample ${i} at bytes ${s.offset}+${s.size}, outside the file (${source.size} bytes)`);
    }
    const pts = (s.cts - mediaTime) / timescale + delay;
    if (!Number.isFinite(pts)) throw bad(422, "corrupt_sample_table", `sample ${i} has no valid timestamp`);
    samples.push({ pts, cts: s.cts, duration: s.duration ?? 0, offset: s.offset, size: s.size, isSync: s.is_sync });
    end = Math.max(end, pts + (s.duration ?? 0) / timescale);
  }
  if (samples.length === 0) throw bad(422, "no_frames", "its video track has no samples");
  samples.sort((a, b) => a.cts - b.cts);
  if (!samples.some((s) => s.isSync)) throw bad(422, "no_keyframes", "its video track has no keyframes (sync samples)");

  // The movie's declared duration; a fragmented file's empty moov may declare
  // none: then the span of its frames.
  const mvhd = file.moov!.mvhd;
  const fragmentDuration = file.moov!.mvex?.mehd?.fragment_duration ?? 0;
  const declared = mvhd.duration > 0 ? mvhd.duration : fragmentDuration;
  const durationSeconds = declared > 0 && mvhd.timescale > 0 ? declared / mvhd.timescale : end - samples[0].pts;
  if (durationSeconds > limits.maxSeconds) {
    throw bad(422, "video_too_long", `it lasts ${durationSeconds.toFixed(1)} s; at most ${limits.maxSeconds} s is accepted here`);
  }

  return {
    durationSeconds,
    bytesRead: source.bytesRead,
    reads: source.reads,
    video: {
      codec,
      width,
      height,
      timescale,
      avcC,
      profileIdc: config.profileIdc,
      bitDepth: config.bitDepth,
      samples,
    },
  };
}
