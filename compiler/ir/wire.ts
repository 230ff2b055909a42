// Protobuf wire format, just enough to carry the fields the IR does not model.
// onnx-proto (ONNX 1.10's schema) decodes the modeled fields; this module finds
// the raw bytes of every other field of a message (newer ONNX fields included,
// which onnx-proto would silently drop) and splices them back in after
// onnx-proto has encoded the modeled ones.
import { IrProblem } from "./errors.ts";

export interface WireField {
  readonly number: number;
  readonly wireType: number;
  /** The whole field, tag included. */
  readonly bytes: Uint8Array;
  /** The payload of a length-delimited field (wire type 2). */
  readonly payload?: Uint8Array;
}

function readVarint(buf: Uint8Array, pos: number): [value: number, next: number] {
  let value = 0;
  let scale = 1;
  for (let i = pos; i < buf.length && i < pos + 10; i++) {
    const b = buf[i];
    value += (b & 0x7f) * scale;
    scale *= 128;
    if (b < 0x80) return [value, i + 1];
  }
  throw new IrProblem(`truncated or malformed varint at byte ${pos}`);
}

/** The top-level fields of one encoded message, in file order. */
export function splitFields(buf: Uint8Array): WireField[] {
  const fields: WireField[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const start = pos;
    const [tag, afterTag] = readVarint(buf, pos);
    const number = Math.floor(tag / 8);
    const wireType = tag % 8;
    if (number === 0) throw new IrProblem(`invalid field number 0 at byte ${start}`);
    let end: number;
    let payload: Uint8Array | undefined;
    switch (wireType) {
      case 0: end = readVarint(buf, afterTag)[1]; break;
      case 1: end = afterTag + 8; break;
      case 5: end = afterTag + 4; break;
      case 2: {
        const [length, afterLength] = readVarint(buf, afterTag);
        end = afterLength + length;
        payload = buf.subarray(afterLength, end);
        break;
      }
      default: throw new IrProblem(`unsupported wire type ${wireType} at byte ${start}`);
    }
    if (end > buf.length) throw new IrProblem(`field ${number} at byte ${start} runs past the end (truncated?)`);
    fields.push({ number, wireType, bytes: buf.subarray(start, end), payload });
    pos = end;
  }
  return fields;
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

function encodeVarint(value: number): Uint8Array {
  const out: number[] = [];
  while (value >= 0x80) {
    out.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  out.push(value);
  return Uint8Array.from(out);
}

/**
 * Which fields of a message the IR models, and which of those are nested
 * messages that can carry `extra` bytes of their own (key: the onnx-proto
 * property name).
 */
export interface Layout {
  readonly modeled: ReadonlySet<number>;
  readonly children: Readonly<Record<number, { readonly key: string; readonly layout: Layout }>>;
}

const leaf = (...modeled: number[]): Layout => ({ modeled: new Set(modeled), children: {} });

// Field numbers from onnx.proto.
export const TENSOR: Layout = leaf(1, 2, 4, 5, 6, 7, 8, 9, 10, 11);
export const VALUE_INFO: Layout = leaf(1, 2, 3);
const GRAPH_CHILDREN: Record<number, { key: string; layout: Layout }> = {};
export const GRAPH: Layout = { modeled: new Set([1, 2, 5, 10, 11, 12, 13]), children: GRAPH_CHILDREN };
export const ATTRIBUTE: Layout = {
  modeled: new Set([1, 20, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
  children: {
    5: { key: "t", layout: TENSOR },
    6: { key: "g", layout: GRAPH },
    10: { key: "tensors", layout: TENSOR },
    11: { key: "graphs", layout: GRAPH },
  },
};
export const NODE: Layout = {
  modeled: new Set([1, 2, 3, 4, 5, 6, 7]),
  children: { 5: { key: "attribute", layout: ATTRIBUTE } },
};
Object.assign(GRAPH_CHILDREN, {
  1: { key: "node", layout: NODE },
  5: { key: "initializer", layout: TENSOR },
  11: { key: "input", layout: VALUE_INFO },
  12: { key: "output", layout: VALUE_INFO },
  13: { key: "valueInfo", layout: VALUE_INFO },
});
export const MODEL: Layout = {
  modeled: new Set([1, 2, 3, 4, 5, 6, 7, 8, 14]),
  children: { 7: { key: "graph", layout: GRAPH } },
};

/** The raw bytes of the fields whose numbers `keep` accepts, or undefined if none. */
export function fieldBytes(fields: readonly WireField[], keep: (number: number) => boolean): Uint8Array | undefined {
  const kept = fields.filter((f) => keep(f.number));
  return kept.length ? concatBytes(kept.map((f) => f.bytes)) : undefined;
}

/** The raw bytes of a message's fields that `layout` does not model, or undefined if none. */
export function unmodeledBytes(fields: readonly WireField[], layout: Layout): Uint8Array | undefined {
  return fieldBytes(fields, (n) => !layout.modeled.has(n));
}

/**
 * Payloads of the occurrences of one length-delimited field, in order.
 * `expected` is how many onnx-proto decoded: it ignores wire types, so a
 * corrupt file can make the two disagree, which is reported, not followed.
 */
export function payloadsOf(fields: readonly WireField[], number: number, expected?: number): Uint8Array[] {
  const found = fields.filter((f) => f.number === number);
  const bad = found.find((f) => !f.payload);
  if (bad) throw new IrProblem(`malformed protobuf: field ${number} has wire type ${bad.wireType}, expected 2`);
  if (expected !== undefined && found.length !== expected) {
    throw new IrProblem(`malformed protobuf: field ${number} occurs ${found.length} times, decoded ${expected}`);
  }
  return found.map((f) => f.payload!);
}

/**
 * Rewrites a message encoded by onnx-proto, appending to each (nested) message
 * the extra bytes `extras` holds for the object it was encoded from. `obj` is
 * that object; the k-th occurrence of a repeated field is obj[key][k].
 */
export function spliceExtras(
  encoded: Uint8Array,
  layout: Layout,
  obj: Record<string, unknown>,
  extras: WeakMap<object, Uint8Array>,
): Uint8Array {
  const parts: Uint8Array[] = [];
  const seen = new Map<number, number>();
  for (const f of splitFields(encoded)) {
    const child = layout.children[f.number];
    if (!child || !f.payload) {
      parts.push(f.bytes);
      continue;
    }
    const k = seen.get(f.number) ?? 0;
    seen.set(f.number, k + 1);
    const value = obj[child.key];
    const childObj = (Array.isArray(value) ? value[k] : value) as Record<string, unknown>;
    const payload = spliceExtras(f.payload, child.layout, childObj, extras);
    parts.push(encodeVarint(f.number * 8 + 2), encodeVarint(payload.length), payload);
  }
  const extra = extras.get(obj);
  if (extra) parts.push(extra);
  return concatBytes(parts);
}
