import { describe, expect, it } from "vitest";
import { CompileError } from "./errors.ts";
import { selectCandidate, tiesWithin, type CandidateKind, type MeasuredCandidate } from "./select.ts";

/** A hand-made row: web median and IQR in ms, peak memory in MiB. */
function row(name: string, kind: CandidateKind, top1: number, bytes: number, median: number, iqr: number, mib = 20): MeasuredCandidate {
  const timing = { runs: 15, medianMs: median, q1Ms: median - iqr / 2, q3Ms: median + iqr / 2, minMs: median - iqr, maxMs: median + iqr };
  return { name, kind, top1, bytes, measurement: { web: { timing, peakWasmBytes: mib * 2 ** 20 }, node: { timing } } };
}

const fp32 = row("fp32", "fp32", 0.9, 400_000, 100, 4);

describe("selectCandidate", () => {
  it("picks the fastest within the budget", () => {
    const d = selectCandidate([fp32, row("qdq", "qdq", 0.895, 110_000, 80, 4), row("qop", "qoperator", 0.89, 105_000, 60, 4)]);
    expect(d.chosen).toBe("qop");
    expect(d.forced).toBe(false);
    expect(d.reasons.join(" ")).toContain("fastest in onnxruntime-web: qop");
  });

  it("leaves out a candidate over the accuracy budget, however fast", () => {
    const d = selectCandidate([fp32, row("qop", "qoperator", 0.87, 105_000, 40, 2), row("qdq", "qdq", 0.9, 110_000, 90, 2)]);
    expect(d.chosen).toBe("qdq");
    expect(d.verdicts.find((v) => v.name === "qop")).toMatchObject({ eligible: false });
    expect(d.verdicts.find((v) => v.name === "qop")!.note).toContain("3.0 points under");
  });

  it("a wider budget lets it in", () => {
    const d = selectCandidate([fp32, row("qop", "qoperator", 0.87, 105_000, 40, 2)], { budgetPoints: 3 });
    expect(d.chosen).toBe("qop");
  });

  it("takes the smallest when speeds tie within the measured spread", () => {
    // 100 vs 97 ms with IQRs of 4: a tie (fp32 too); the int8 model is a quarter the size.
    const d = selectCandidate([fp32, row("w8", "weight-only", 0.9, 105_000, 100, 4), row("qdq", "qdq", 0.9, 110_000, 97, 4)]);
    expect(d.chosen).toBe("w8");
    expect(d.reasons.at(-1)).toContain("tie within noise");
  });

  it("does not call a gap wider than the spread a tie", () => {
    const d = selectCandidate([fp32, row("w8", "weight-only", 0.9, 105_000, 110, 4)]);
    expect(d.chosen).toBe("fp32");
    expect(d.verdicts[1].note).toContain("slower");
  });

  it("leaves out a candidate over the isolate's memory limit", () => {
    const d = selectCandidate([fp32, row("qdq", "qdq", 0.9, 110_000, 50, 2, 130)]);
    expect(d.chosen).toBe("fp32");
    expect(d.verdicts[1].note).toContain("isolate limit");
  });

  it("honours --choose by name or kind, warning when it is outside the budget", () => {
    const rows = [fp32, row("mixed-3", "mixed", 0.85, 150_000, 95, 2)];
    expect(selectCandidate(rows, { choose: "mixed" })).toMatchObject({ chosen: "mixed-3", forced: true });
    expect(selectCandidate(rows, { choose: "mixed-3" }).reasons[1]).toMatch(/^warning: top-1 85.0%/);
    expect(selectCandidate(rows, { choose: "fp32" }).reasons).toEqual(["fp32 chosen by --choose fp32"]);
  });

  it("names the accepted choices for an unknown --choose", () => {
    expect(() => selectCandidate([fp32], { choose: "int4" })).toThrow(/--choose int4: no such candidate; accepted: fp32/);
  });

  it("needs the fp32 baseline and a web latency", () => {
    expect(() => selectCandidate([row("qdq", "qdq", 0.9, 1, 1, 1)])).toThrow(CompileError);
    const noWeb = { ...row("qdq", "qdq", 0.9, 1, 1, 1), measurement: {} };
    expect(() => selectCandidate([fp32, noWeb])).toThrow(/qdq has no onnxruntime-web latency/);
  });

  it("fails with every reason when nothing fits", () => {
    expect(() => selectCandidate([row("fp32", "fp32", 0.9, 1, 1, 1, 200)])).toThrow(/no candidate fits: fp32: peak wasm memory 200.0 MiB/);
  });
});

describe("tiesWithin", () => {
  it("compares the gap with the larger spread", () => {
    const t = (m: number, iqr: number) => ({ runs: 5, medianMs: m, q1Ms: m - iqr / 2, q3Ms: m + iqr / 2, minMs: m, maxMs: m });
    expect(tiesWithin(t(100, 2), t(103, 5))).toBe(true);
    expect(tiesWithin(t(100, 2), t(103, 2))).toBe(false);
  });
});
