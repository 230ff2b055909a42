import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { renderHtml } from "./html.ts";
import { ReportSchema, type Report } from "./schema.ts";
import { writeReport } from "./write.ts";

const t = (m: number) => ({ runs: 9, medianMs: m, q1Ms: m - 1, q3Ms: m + 1, minMs: m - 2, maxMs: m + 3 });

const report: Report = {
  model: { id: "toy", version: "2" },
  createdAt: "2026-11-25T20:00:00.000Z",
  heldOut: { clips: 80, source: "held-out/" },
  budgetPoints: 1,
  memoryLimitBytes: 128 * 2 ** 20,
  nodeThreads: 1,
  candidates: [
    { name: "teacher", stage: "teacher", kind: "fp32", top1: 0.95, bytes: 4_000_000, web: t(200), selectable: false },
    { name: "fp32", stage: "student", kind: "fp32", top1: 0.9, bytes: 400_000, web: t(20), node: t(5), peakWasmBytes: 16 * 2 ** 20, selectable: true },
    { name: "qdq <minmax>", stage: "quantized", kind: "qdq", top1: 0.895, bytes: 110_000, web: t(19), node: t(3), peakWasmBytes: 16 * 2 ** 20, selectable: true },
    { name: "ort-quantize_static", stage: "peer", kind: "qdq", top1: 0.89, bytes: 340_000, web: t(21), selectable: false },
  ],
  sensitivity: [
    { layer: "blocks.0.conv_b", top1Gain: 2.5, meanAbsDeltaGain: 0.02 },
    { layer: "head.proj", top1Gain: 0, meanAbsDeltaGain: -0.005 },
  ],
  decision: {
    chosen: "qdq <minmax>",
    forced: false,
    reasons: ["fastest in onnxruntime-web: qdq <minmax> at 19.0 ms (IQR 2.0)"],
    verdicts: [
      { name: "fp32", eligible: true, note: "ties with the fastest within noise, 400000 bytes vs 110000" },
      { name: "qdq <minmax>", eligible: true, note: "chosen" },
    ],
  },
};

describe("compile report", () => {
  it("writes report.json (valid, round-trips) and a self-contained report.html", async () => {
    const dir = mkdtempSync(join(tmpdir(), "report-"));
    const { json, html } = await writeReport(dir, report);
    expect(ReportSchema.parse(JSON.parse(readFileSync(json, "utf8")))).toEqual(report);
    const page = readFileSync(html, "utf8");
    // Nothing fetched: no scripts, stylesheets or images from elsewhere.
    expect(page).not.toMatch(/<script|<link|src=|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    expect(page.match(/<svg/g)).toHaveLength(2);
  });

  it("plots every candidate with a web latency, rings the chosen one, escapes names", () => {
    const page = renderHtml(report);
    expect(page.match(/<circle [^>]*fill-opacity/g)).toHaveLength(4);
    expect(page).toContain("qdq &lt;minmax&gt;");
    expect(page).not.toContain("qdq <minmax>");
    expect(page).toMatch(/<circle[^>]*stroke="#111"[^>]*><title>qdq &lt;minmax&gt;: 89.5%/);
    expect(page).toContain('<tr class="chosen"><td>qdq &lt;minmax&gt;</td>');
    // speed vs fp32: 20 / 19 ms.
    expect(page).toContain("<td>1.05×</td>");
  });

  it("draws one sensitivity bar per layer, the ones worth keeping in fp32 red", () => {
    const page = renderHtml(report);
    // Top-1 points decide the colour when there are any; the logit distance when not.
    const pointsFirst = renderHtml({ ...report, sensitivity: [{ layer: "x", top1Gain: 1, meanAbsDeltaGain: -0.1 }] });
    expect(pointsFirst).toMatch(/x<\/text><rect [^>]*fill="#dc2626"/);
    expect(page).toMatch(/blocks.0.conv_b<\/text><rect [^>]*fill="#dc2626"\/><text [^>]*>0.020, top-1 \+2.5 pts</);
    expect(page).toMatch(/head.proj<\/text><rect [^>]*fill="#059669"/);
  });

  it("refuses a report whose candidate has an impossible top-1", async () => {
    const bad = { ...report, candidates: [{ ...report.candidates[0], top1: 95 }] };
    await expect(writeReport(tmpdir(), bad)).rejects.toThrow(/top1/);
  });
});
