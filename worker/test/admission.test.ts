// The per-isolate admission gate: FIFO within a budget, a bounded queue and a
// bounded wait (503 busy with Retry-After, as JSON), decode + inference one
// request at a time; and under concurrent MP4 requests every answer is a 200
// or a 503 busy JSON, the answers equal to those of the same requests one by one.
import { describe, expect, it, vi } from "vitest";
import { Log } from "mp4box";
import { exclusively, Gate, GateFull, type GateLimits } from "../src/admission.ts";
import "../src/mp4/index-mp4.ts";
import { videoBytes } from "./fixtures/videos.ts";
import { expectError } from "./helpers.ts";
import { call } from "./jobs-helpers.ts";

const limits = (capacity: number, maxQueue = 10, maxWaitMs = 10_000): GateLimits => ({ capacity, maxQueue, maxWaitMs });
const tick = () => new Promise((r) => setTimeout(r, 0));

describe("Gate", () => {
  it("admits within the capacity, in arrival order, and a big request alone", async () => {
    const gate = new Gate();
    const order: string[] = [];
    const a = await gate.acquire(6, limits(10));
    const b = gate.acquire(6, limits(10)).then((release) => (order.push("b"), release));
    const c = gate.acquire(1, limits(10)).then((release) => (order.push("c"), release));
    await tick();
    // c would fit beside a, but b came first: no overtaking.
    expect(order).toEqual([]);
    expect(gate.queued).toBe(2);
    a();
    const [releaseB, releaseC] = await Promise.all([b, c]);
    expect(order).toEqual(["b", "c"]);
    releaseB();
    releaseC();
    // More than the capacity is clipped to it: it runs once the gate is empty.
    const huge = await gate.acquire(1000, limits(10));
    const small = gate.acquire(1, limits(10));
    await tick();
    expect(gate.queued).toBe(1);
    huge();
    (await small)();
    expect(gate.queued).toBe(0);
  });

  it("refuses beyond the queue, and after the longest wait, with a Retry-After", async () => {
    const gate = new Gate();
    const held = await gate.acquire(1, limits(1, 1));
    const waiting = gate.acquire(1, limits(1, 1, 50));
    const full = await gate.acquire(1, limits(1, 1)).catch((e: unknown) => e);
    expect(full).toBeInstanceOf(GateFull);
    expect(full).toMatchObject({ reason: "queue_full" });
    expect((full as GateFull).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    await expect(waiting).rejects.toMatchObject({ reason: "wait_exceeded" });
    expect(gate.queued).toBe(0);
    held();
    // Released twice is released once.
    held();
    const again = await gate.acquire(1, limits(1, 0));
    await expect(gate.acquire(1, limits(1, 0))).rejects.toMatchObject({ reason: "queue_full" });
    again();
  });

  it("exclusively never overlaps two pieces of work", async () => {
    let inside = 0;
    let most = 0;
    const work = async () => {
      inside++;
      most = Math.max(most, inside);
      await new Promise((r) => setTimeout(r, 5));
      inside--;
    };
    await Promise.all(Array.from({ length: 6 }, () => exclusively(work)));
    expect(most).toBe(1);
    // A failure releases the section too.
    await expect(exclusively(async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    await exclusively(work);
  });
});

describe("POST /v1/classify under concurrency", () => {
  const mp4 = videoBytes("high_moov_end");
  const send = (vars: Record<string, string> = {}) =>
    call("/v1/classify?topk=2", { method: "POST", body: mp4 as Uint8Array<ArrayBuffer>, headers: { "content-type": "video/mp4" } }, vars);

  it("answers 200 or 503 busy (JSON, Retry-After) when more wait than the queue holds", async () => {
    const alone = (await (await send()).json()) as { top: unknown; clips: unknown };
    // One request at a time (a budget of 1 byte), one more may wait.
    const tight = { ADMISSION_BYTES: "1", ADMISSION_QUEUE: "1" };
    const answers = await Promise.all(Array.from({ length: 6 }, () => send(tight)));
    const codes = answers.map((r) => r.status);
    expect(codes.filter((s) => s === 200).length).toBeGreaterThanOrEqual(2);
    expect(codes.every((s) => s === 200 || s === 503)).toBe(true);
    for (const res of answers) {
      if (res.status === 200) {
        // Served in turn, the same answer as alone.
        const body = (await res.json()) as { top: unknown; clips: unknown };
        expect({ top: body.top, clips: body.clips }).toEqual({ top: alone.top, clips: alone.clips });
        continue;
      }
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      const body = await expectError(res, 503, "busy");
      expect(body.error.message).toContain("already waiting");
    }
    expect(codes).toContain(503);
  });

  it("with room in the queue, all concurrent requests are served", async () => {
    const answers = await Promise.all(Array.from({ length: 8 }, () => send()));
    expect(answers.map((r) => r.status)).toEqual(Array(8).fill(200));
  });
});

it("mp4box's parse errors without a file go to the debug log, not the error log", () => {
  const error = vi.spyOn(console, "error").mockImplementation(() => {});
  const debug = vi.spyOn(console, "debug").mockImplementation(() => {});
  try {
    Log.error("BoxParser", "Error in length field in stz2 box");
    expect(error).not.toHaveBeenCalled();
    expect(debug).toHaveBeenCalledWith(JSON.stringify({ mp4box: "BoxParser", message: "Error in length field in stz2 box" }));
  } finally {
    error.mockRestore();
    debug.mockRestore();
  }
});
