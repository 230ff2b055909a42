// ISO BMFF box headers, and a pass over moov/moof before mp4box sees them.
// mp4box builds one JS object per sample of every track as soon as it parses a
// table, and trusts sample counts: a 20-byte stsz can claim 4 billion samples.
// So the counts are checked here first, and tracks other than the chosen video
// track are renamed to "free" (same size, so no file position moves) for
// mp4box to skip: a 3 h video's audio track alone would be ~500k samples.

export class BoxError extends Error {}

export interface BoxHeader {
  type: string;
  /** Position of the box in the file. */
  start: number;
  /** Whole box, header included (a size-0 box extends to the end of the file). */
  size: number;
  headerSize: number;
}

const PRINTABLE_TYPE = /^[\x20-\x7e]{4}$/;

function u32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) >>> 0) + (b[at + 1] << 16) + (b[at + 2] << 8) + b[at + 3];
}

function fourcc(b: Uint8Array, at: number): string {
  return String.fromCharCode(b[at], b[at + 1], b[at + 2], b[at + 3]);
}

/**
 * The header of the box at `bytes[at]`, which lies at file position `start`.
 * `bytes` must hold at least 16 bytes from `at` (or up to `fileEnd`).
 */
export function boxHeader(bytes: Uint8Array, at: number, start: number, fileEnd: number): BoxHeader {
  if (bytes.length - at < 8) throw new BoxError(`a box header at byte ${start} is cut off by the end of the file`);
  const type = fourcc(bytes, at + 4);
  if (!PRINTABLE_TYPE.test(type)) throw new BoxError(`the box at byte ${start} has no valid type`);
  let size = u32(bytes, at);
  let headerSize = 8;
  if (size === 1) {
    if (bytes.length - at < 16) throw new BoxError(`the 64-bit size of the ${type} box at byte ${start} is cut off`);
    size = u32(bytes, at + 8) * 2 ** 32 + u32(bytes, at + 12);
    headerSize = 16;
  } else if (size === 0) {
    size = fileEnd - start;
  }
  if (size < headerSize || !Number.isSafeInteger(size)) throw new BoxError(`the ${type} box at byte ${start} has an impossible size ${size}`);
  return { type, start, size, headerSize };
}

interface Child extends BoxHeader {
  /** Offsets into the parsed buffer. */
  body: number;
  end: number;
}

/** The child boxes of the container whose body spans bytes[from, to). */
function children(bytes: Uint8Array, from: number, to: number, parent: string): Child[] {
  const out: Child[] = [];
  for (let at = from; at + 8 <= to; ) {
    const h = boxHeader(bytes.subarray(0, to), at, at, to);
    if (at + h.size > to) throw new BoxError(`the ${h.type} box inside ${parent} runs past its end`);
    out.push({ ...h, body: at + h.headerSize, end: at + h.size });
    at += h.size;
  }
  return out;
}

/** A whole box (header included) as a Child. */
function asChild(box: Uint8Array): Child {
  const header = boxHeader(box, 0, 0, box.length);
  return { ...header, body: header.headerSize, end: box.length };
}

function find(bytes: Uint8Array, box: Child, path: string[]): Child | undefined {
  let current: Child | undefined = box;
  for (const type of path) {
    current = children(bytes, current.body, current.end, current.type).find((c) => c.type === type);
    if (!current) return undefined;
  }
  return current;
}

function need(box: Child, bytes: number, what: string): void {
  if (box.end - box.body < bytes) throw new BoxError(`the ${box.type} box is too short for its ${what}`);
}

/** Samples declared by a trak's stsz/stz2, checked against the table's length. */
function stblSampleCount(bytes: Uint8Array, trak: Child): number {
  const stbl = find(bytes, trak, ["mdia", "minf", "stbl"]);
  if (!stbl) throw new BoxError("the video track has no sample table (stbl)");
  const kids = children(bytes, stbl.body, stbl.end, "stbl");
  const stsz = kids.find((c) => c.type === "stsz");
  const stz2 = kids.find((c) => c.type === "stz2");
  if (stsz) {
    need(stsz, 12, "header");
    const constant = u32(bytes, stsz.body + 4);
    const count = u32(bytes, stsz.body + 8);
    if (constant === 0) need(stsz, 12 + 4 * count, `${count} sample sizes`);
    return count;
  }
  if (stz2) {
    need(stz2, 12, "header");
    const fieldBits = bytes[stz2.body + 7];
    const count = u32(bytes, stz2.body + 8);
    need(stz2, 12 + Math.ceil((count * fieldBits) / 8), `${count} sample sizes`);
    return count;
  }
  throw new BoxError("the video track has no sample size table (stsz)");
}

export interface MoovScan {
  /** track_ID of the first video track. */
  trackId: number;
  /** Its samples in the moov's tables (0 for a fragmented file's empty moov). */
  sampleCount: number;
  /** Whether the moov announces movie fragments (mvex). */
  fragmented: boolean;
}

/** Checks the moov (box bytes, header included), keeps the first video track, renames the other traks "free". */
export function scanMoov(moov: Uint8Array): MoovScan {
  const root = asChild(moov);
  let video: Child | undefined;
  let fragmented = false;
  for (const child of children(moov, root.body, root.end, "moov")) {
    if (child.type === "mvex") fragmented = true;
    if (child.type !== "trak") continue;
    const hdlr = find(moov, child, ["mdia", "hdlr"]);
    const isVideo = hdlr !== undefined && hdlr.end - hdlr.body >= 12 && fourcc(moov, hdlr.body + 8) === "vide";
    if (isVideo && !video) video = child;
    else moov.set([0x66, 0x72, 0x65, 0x65], child.start + 4); // "free"
  }
  if (!video) throw new BoxError("no video track");
  const tkhd = find(moov, video, ["tkhd"]);
  if (!tkhd) throw new BoxError("the video track has no header (tkhd)");
  const version = moov[tkhd.body];
  need(tkhd, version === 1 ? 24 : 16, "track id");
  const trackId = u32(moov, tkhd.body + (version === 1 ? 20 : 12));
  return { trackId, sampleCount: stblSampleCount(moov, video), fragmented };
}

/** Checks a moof: renames trafs of other tracks "free" and returns the video track's sample count. */
export function scanMoof(moof: Uint8Array, trackId: number): number {
  const root = asChild(moof);
  let count = 0;
  for (const traf of children(moof, root.body, root.end, "moof")) {
    if (traf.type !== "traf") continue;
    const kids = children(moof, traf.body, traf.end, "traf");
    const tfhd = kids.find((c) => c.type === "tfhd");
    if (!tfhd) throw new BoxError("a track fragment has no header (tfhd)");
    need(tfhd, 8, "track id");
    if (u32(moof, tfhd.body + 4) !== trackId) {
      moof.set([0x66, 0x72, 0x65, 0x65], traf.start + 4);
      continue;
    }
    for (const trun of kids.filter((c) => c.type === "trun")) {
      need(trun, 8, "header");
      const flags = u32(moof, trun.body) & 0xffffff;
      const samples = u32(moof, trun.body + 4);
      // Optional data_offset (0x1) and first_sample_flags (0x4), then 4 bytes per
      // per-sample field present (duration 0x100, size 0x200, flags 0x400, cto 0x800).
      const fixed = 8 + (flags & 1 ? 4 : 0) + (flags & 4 ? 4 : 0);
      const perSample = 4 * [0x100, 0x200, 0x400, 0x800].filter((f) => flags & f).length;
      need(trun, fixed + perSample * samples, `${samples} sample entries`);
      count += samples;
    }
  }
  return count;
}
