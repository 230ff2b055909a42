// Deterministic, seeded mutations of valid MP4 files for the fuzz test: bit
// flips, byte runs, truncations, box size corruption, reordered or dropped
// top-level boxes, and edits of the sample tables (and of their fragmented
// counterparts) that the indexer and the sample reader trust.
import { seededRandom } from "../compiler/random.ts";

interface Box {
  type: string;
  /** Offset of the size field. */
  start: number;
  /** Offset just past the box. */
  end: number;
  /** Offset of the payload (past size, type and any 64-bit size). */
  body: number;
}

// Boxes whose payload is a list of boxes (stsd and the sample entries are
// skipped: their payload starts with fields, not boxes).
const CONTAINERS = new Set(["moov", "trak", "mdia", "minf", "stbl", "edts", "mvex", "moof", "traf", "dinf", "udta"]);
// Full boxes whose u32 fields after version/flags drive the sample table.
const TABLES = new Set(["stsz", "stco", "co64", "stss", "stts", "ctts", "stsc", "trun", "tfhd", "tfdt", "trex", "mdhd", "mvhd", "tkhd", "elst", "mehd"]);

/** Every box that parses (only the top level unless `deep`), depth first; stops quietly at anything malformed. */
export function boxes(b: Uint8Array, deep = true, from = 0, to = b.length, out: Box[] = []): Box[] {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let at = from;
  while (at + 8 <= to) {
    let size = view.getUint32(at);
    let body = at + 8;
    if (size === 1) {
      if (at + 16 > to) break;
      size = Number(view.getBigUint64(at + 8));
      body = at + 16;
    } else if (size === 0) {
      size = to - at;
    }
    if (size < body - at || at + size > to) break;
    const type = String.fromCharCode(...b.subarray(at + 4, at + 8));
    out.push({ type, start: at, end: at + size, body });
    if (deep && CONTAINERS.has(type)) boxes(b, deep, body, at + size, out);
    at += size;
  }
  return out;
}

const pick = <T>(rand: () => number, items: readonly T[]): T => items[Math.floor(rand() * items.length)];
const int = (rand: () => number, below: number) => Math.floor(rand() * below);

/** A u32 value that tends to break parsers: edges, off-by-ones, scaled and random values. */
function evilU32(rand: () => number, old: number): number {
  const choices = [0, 1, 2, 0xff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, old + 1, old - 1, old * 2, old >>> 1, old + 0x10000, int(rand, 2 ** 32)];
  return pick(rand, choices) >>> 0;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

type Mutator = (b: Uint8Array, rand: () => number) => Uint8Array;

export const MUTATORS: Record<string, Mutator> = {
  bitFlips(b, rand) {
    const out = b.slice();
    for (let n = 1 + int(rand, 16); n > 0; n--) out[int(rand, out.length)] ^= 1 << int(rand, 8);
    return out;
  },
  byteRun(b, rand) {
    const out = b.slice();
    const at = int(rand, out.length);
    const fill = pick(rand, [0x00, 0xff, -1]);
    const end = Math.min(out.length, at + 1 + int(rand, 256));
    for (let i = at; i < end; i++) out[i] = fill < 0 ? int(rand, 256) : fill;
    return out;
  },
  truncate(b, rand) {
    // Half of the cuts land on a box boundary or just inside a box header.
    const all = boxes(b);
    if (rand() < 0.5 && all.length) {
      const box = pick(rand, all);
      return b.slice(0, box.start + pick(rand, [0, 4, 8, 12, box.end - box.start - 1]));
    }
    return b.slice(0, int(rand, b.length));
  },
  boxSize(b, rand) {
    const all = boxes(b);
    if (!all.length) return MUTATORS.bitFlips(b, rand);
    const out = b.slice();
    const box = pick(rand, all);
    new DataView(out.buffer).setUint32(box.start, evilU32(rand, box.end - box.start));
    return out;
  },
  sampleTable(b, rand) {
    const tables = boxes(b).filter((x) => TABLES.has(x.type) && x.end - x.body >= 8);
    const out = b.slice();
    if (!tables.length) return out;
    const view = new DataView(out.buffer);
    for (let n = 1 + int(rand, 3); n > 0; n--) {
      const box = pick(rand, tables);
      // A u32 after version/flags: entry counts, sizes, offsets, durations, flags.
      const fields = Math.floor((box.end - box.body - 4) / 4);
      const at = box.body + 4 + 4 * (rand() < 0.3 ? 0 : int(rand, fields));
      view.setUint32(at, evilU32(rand, view.getUint32(at)));
    }
    return out;
  },
  avcC(b, rand) {
    // The decoder configuration (SPS/PPS): inside stsd/avc1, found by its type.
    const out = b.slice();
    let at = -1;
    for (let i = 0; i + 4 <= b.length && at < 0; i++) if (b[i] === 0x61 && b[i + 1] === 0x76 && b[i + 2] === 0x63 && b[i + 3] === 0x43) at = i; // "avcC"
    if (at < 0) return MUTATORS.bitFlips(b, rand);
    for (let n = 1 + int(rand, 4); n > 0; n--) out[at + 4 + int(rand, 40)] = int(rand, 256);
    return out;
  },
  reorder(b, rand) {
    // moov/mdat swaps, moves, drops and duplicates, offsets left as they were.
    const level = boxes(b, false);
    if (level.length < 2) return b.slice();
    const parts = level.map((x) => b.subarray(x.start, x.end));
    const i = int(rand, parts.length);
    const j = int(rand, parts.length);
    switch (int(rand, 4)) {
      case 0:
        [parts[i], parts[j]] = [parts[j], parts[i]];
        break;
      case 1:
        parts.splice(i, 1);
        break;
      case 2:
        parts.splice(j, 0, parts[i]);
        break;
      default:
        parts.push(parts.splice(i, 1)[0]);
    }
    return concat(...parts);
  },
  insert(b, rand) {
    const at = int(rand, b.length);
    const junk = Uint8Array.from({ length: 1 + int(rand, 64) }, () => int(rand, 256));
    return concat(b.subarray(0, at), junk, b.subarray(at));
  },
};

export const MUTATOR_NAMES = Object.keys(MUTATORS);

/** Case `n`'s mutation of `file`: one to three mutators, chosen and parameterised by the seed. */
export function mutate(file: Uint8Array, seed: number): { bytes: Uint8Array; applied: string[] } {
  const rand = seededRandom(seed);
  let bytes = file;
  const applied: string[] = [];
  for (let n = rand() < 0.8 ? 1 : 2 + int(rand, 2); n > 0; n--) {
    const name = pick(rand, MUTATOR_NAMES);
    bytes = MUTATORS[name](bytes, rand);
    applied.push(name);
  }
  return { bytes, applied };
}
