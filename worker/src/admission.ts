// Admission of memory-heavy work, per isolate. JavaScript runs one request's
// CPU work at a time anyway, so making requests wait costs no throughput; what
// it saves is memory: without it every request in flight holds its body, its
// decoded pictures, tensors and a decoder context at once, and memory grows
// with concurrency until the isolate is killed ("worker restarted mid-request").
//
// Two gates, both FIFO (a large request at the head is not starved by small ones):
//  - `admit` (middleware) weighs each request by the bytes it will hold, its
//    declared body plus a working reserve, against a budget; a bounded number
//    wait, for a bounded time; beyond that the answer is 503 busy with Retry-After.
//  - `exclusively` runs decode + inference one request at a time, so one
//    decoder context and one request's clip tensors are alive however many
//    requests were admitted (admitted requests overlap only their I/O).
import type { MiddlewareHandler } from "hono";
import { ApiError } from "./errors.ts";
import { LIMITS, maxBodyBytes } from "./limits.ts";
import type { AppEnv, Bindings } from "./middleware.ts";

export interface GateLimits {
  /** Units in use at once: bytes for admission, 1 for the exclusive section. */
  capacity: number;
  /** Requests that may wait; one more is refused. */
  maxQueue: number;
  /** Longest wait before the request is refused. */
  maxWaitMs: number;
}

interface Waiter {
  cost: number;
  admit: () => void;
}

/** Refused by a full gate: the caller answers 503 with Retry-After. */
export class GateFull extends Error {
  constructor(
    readonly reason: "queue_full" | "wait_exceeded",
    readonly retryAfterSeconds: number,
  ) {
    super(reason);
  }
}

export class Gate {
  private used = 0;
  private capacity = Infinity;
  private readonly waiting: Waiter[] = [];
  /** Mean time a holder keeps the gate (EWMA), for Retry-After. */
  private holdMs = 100;

  get queued(): number {
    return this.waiting.length;
  }

  /** Waits for `cost` units (clipped to the capacity, so a big request runs alone); resolves to the release function. */
  async acquire(cost: number, limits: GateLimits): Promise<() => void> {
    this.capacity = limits.capacity;
    const units = Math.min(cost, limits.capacity);
    if (this.waiting.length === 0 && this.used + units <= limits.capacity) {
      this.used += units;
      return this.releaser(units);
    }
    if (this.waiting.length >= limits.maxQueue) throw new GateFull("queue_full", this.retryAfter());
    await new Promise<void>((resolve, reject) => {
      const timer = Number.isFinite(limits.maxWaitMs)
        ? setTimeout(() => {
            this.waiting.splice(this.waiting.indexOf(waiter), 1);
            reject(new GateFull("wait_exceeded", this.retryAfter()));
            // The one behind a refused head may fit now.
            this.drain();
          }, limits.maxWaitMs)
        : undefined;
      const waiter: Waiter = {
        cost: units,
        admit: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      this.waiting.push(waiter);
    });
    return this.releaser(units);
  }

  private releaser(units: number): () => void {
    const since = performance.now();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= units;
      this.holdMs = 0.8 * this.holdMs + 0.2 * (performance.now() - since);
      this.drain();
    };
  }

  /** Admits waiters from the head while they fit; their units are counted here, before they resume. */
  private drain(): void {
    while (this.waiting.length && this.used + this.waiting[0].cost <= this.capacity) {
      const next = this.waiting.shift()!;
      this.used += next.cost;
      next.admit();
    }
  }

  private retryAfter(): number {
    return Math.min(60, Math.max(1, Math.ceil(((this.waiting.length + 1) * this.holdMs) / 1000)));
  }
}

const admission = new Gate();
const decodeAndInference = new Gate();
const EXCLUSIVE: GateLimits = { capacity: 1, maxQueue: Infinity, maxWaitMs: Infinity };

/** The admission limits: LIMITS' defaults, or the ADMISSION_* vars. */
export function admissionLimits(env: Bindings): GateLimits {
  const number = (text: string | undefined, fallback: number) => (text !== undefined && Number.isFinite(Number(text)) && Number(text) >= 0 ? Number(text) : fallback);
  return {
    capacity: number(env.ADMISSION_BYTES, LIMITS.admission.bytes),
    maxQueue: number(env.ADMISSION_QUEUE, LIMITS.admission.queue),
    maxWaitMs: number(env.ADMISSION_WAIT_SECONDS, LIMITS.admission.waitSeconds) * 1000,
  };
}

/** What a request will hold: its declared body (all of MAX_BODY_BYTES when undeclared) plus the working reserve. */
function requestBytes(contentLength: string | undefined, hasBody: boolean, maxBody: number): number {
  const declared = Number(contentLength);
  const body = !hasBody ? 0 : contentLength !== undefined && Number.isFinite(declared) ? Math.min(declared, maxBody) : maxBody;
  return body + LIMITS.admission.reserveBytes;
}

/** Middleware for the routes that decode or buffer videos: admitted in turn, or 503 busy. */
export const admit: MiddlewareHandler<AppEnv> = async (c, next) => {
  const cost = requestBytes(c.req.header("content-length"), c.req.raw.body !== null, maxBodyBytes(c.env));
  let release: () => void;
  try {
    release = await admission.acquire(cost, admissionLimits(c.env));
  } catch (error) {
    if (!(error instanceof GateFull)) throw error;
    c.header("Retry-After", String(error.retryAfterSeconds));
    const why = error.reason === "queue_full" ? `${admission.queued} requests are already waiting` : "it waited too long for its turn";
    throw new ApiError(503, "busy", `the server is busy: ${why}; retry after the Retry-After header's seconds`, "the same request again after Retry-After seconds");
  }
  try {
    await next();
  } finally {
    release();
  }
};

/** Runs decode + inference alone in the isolate (after requests queued before it). */
export async function exclusively<T>(work: () => Promise<T>): Promise<T> {
  const release = await decodeAndInference.acquire(1, EXCLUSIVE);
  try {
    return await work();
  } finally {
    release();
  }
}
