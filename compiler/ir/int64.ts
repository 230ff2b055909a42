// int64 values as protobufjs hands them over: a Long-like {low, high} object
// when the `long` package is present, a plain number otherwise.
import { IrProblem } from "./errors.ts";
import type { Int } from "./types.ts";

interface LongLike {
  readonly low: number;
  readonly high: number;
}

export type ProtoInt64 = number | LongLike;

export function toBigInt(v: ProtoInt64): bigint {
  if (typeof v === "number") return BigInt(v);
  return BigInt.asIntN(64, (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0));
}

export function toUnsignedBigInt(v: ProtoInt64): bigint {
  return BigInt.asUintN(64, toBigInt(v));
}

/** A number when exactly representable, else a bigint. */
export function toInt(v: ProtoInt64): Int {
  const b = toBigInt(v);
  return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
}

/** A number, or an IrProblem naming `what` when the value does not fit one. */
export function toSafeNumber(v: ProtoInt64 | Int, what: string): number {
  const i = typeof v === "number" || typeof v === "bigint" ? v : toInt(v);
  if (typeof i === "bigint") throw new IrProblem(`${what} is ${i}, too large for this compiler`);
  return i;
}

/** What protobufjs's int64 writer accepts, exactly, for any Int. */
export function toProtoInt64(v: Int): ProtoInt64 {
  if (typeof v === "number") return v;
  const u = BigInt.asUintN(64, v);
  return { low: Number(u & 0xffffffffn) | 0, high: Number(u >> 32n) | 0 };
}
