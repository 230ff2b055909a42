// The report's two plots as inline SVG strings (no scripts, no CDN).
import type { ReportCandidate } from "./schema.ts";

export const esc = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

const STAGE_COLORS: Record<ReportCandidate["stage"], string> = {
  teacher: "#6b7280",
  student: "#2563eb",
  pruned: "#7c3aed",
  quantized: "#059669",
  peer: "#dc2626",
};

/** "Nice" tick values covering [lo, hi]. */
function ticks(lo: number, hi: number, count = 5): number[] {
  const raw = (hi - lo) / count || 1;
  const step = [1, 2, 5, 10].map((m) => m * 10 ** Math.floor(Math.log10(raw))).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/**
 * Top-1 (y) against onnxruntime-web latency (x); a circle's area is the
 * model's size. Candidates without a web latency are left out (listed in the table).
 */
export function scatterSvg(candidates: readonly ReportCandidate[], chosen: string): string {
  const W = 720, H = 420, L = 60, R = 20, T = 20, B = 50;
  const points = candidates.filter((c) => c.web);
  if (points.length === 0) return "<p>No candidate has an onnxruntime-web latency.</p>";
  // The x range holds the IQR whiskers too.
  const xs = points.flatMap((c) => [c.web!.q1Ms, c.web!.q3Ms]);
  const ys = points.map((c) => c.top1 * 100);
  const pad = (lo: number, hi: number) => ((hi - lo) * 0.1 || Math.abs(hi) * 0.1 || 1);
  const [x0, x1] = [Math.max(0, Math.min(...xs) - pad(Math.min(...xs), Math.max(...xs))), Math.max(...xs) + pad(Math.min(...xs), Math.max(...xs))];
  const [y0, y1] = [Math.max(0, Math.min(...ys) - pad(Math.min(...ys), Math.max(...ys))), Math.min(100, Math.max(...ys) + pad(Math.min(...ys), Math.max(...ys)))];
  const sx = (x: number) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const sy = (y: number) => H - B - ((y - y0) / (y1 - y0 || 1)) * (H - T - B);
  const maxBytes = Math.max(...points.map((c) => c.bytes));
  const radius = (bytes: number) => 4 + 16 * Math.sqrt(bytes / maxBytes);
  const grid = [
    ...ticks(x0, x1).map((v) => `<line x1="${sx(v)}" y1="${T}" x2="${sx(v)}" y2="${H - B}" class="grid"/><text x="${sx(v)}" y="${H - B + 16}" text-anchor="middle">${v}</text>`),
    ...ticks(y0, y1).map((v) => `<line x1="${L}" y1="${sy(v)}" x2="${W - R}" y2="${sy(v)}" class="grid"/><text x="${L - 6}" y="${sy(v) + 4}" text-anchor="end">${v}</text>`),
  ];
  const dots = points.map((c) => {
    const [x, y] = [sx(c.web!.medianMs), sy(c.top1 * 100)];
    // The whisker is the interquartile range of the latency: the noise select.ts uses.
    const whisker = `<line x1="${sx(c.web!.q1Ms)}" y1="${y}" x2="${sx(c.web!.q3Ms)}" y2="${y}" stroke="${STAGE_COLORS[c.stage]}" stroke-width="2"/>`;
    const ring = c.name === chosen ? ` stroke="#111" stroke-width="3"` : "";
    return `${whisker}<circle cx="${x}" cy="${y}" r="${radius(c.bytes).toFixed(1)}" fill="${STAGE_COLORS[c.stage]}" fill-opacity="0.55"${ring}><title>${esc(c.name)}: ${(c.top1 * 100).toFixed(1)}%, ${c.web!.medianMs.toFixed(1)} ms, ${c.bytes} bytes</title></circle><text x="${x + radius(c.bytes) + 3}" y="${y - 3}" class="label">${esc(c.name)}</text>`;
  });
  const legend = Object.entries(STAGE_COLORS)
    .filter(([stage]) => points.some((c) => c.stage === stage))
    .map(([stage, color], i) => `<circle cx="${L + 12 + i * 95}" cy="${H - 10}" r="5" fill="${color}"/><text x="${L + 20 + i * 95}" y="${H - 6}">${stage}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="top-1 against latency">
<style>text{font:11px sans-serif;fill:#333}.label{font-size:11px}.grid{stroke:#e5e7eb}</style>
${grid.join("\n")}
<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#333"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#333"/>
<text x="${(L + W - R) / 2}" y="${H - B + 32}" text-anchor="middle">onnxruntime-web latency, ms (median; bar: IQR)</text>
<text transform="translate(14 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">top-1, %</text>
${dots.join("\n")}
${legend.join("\n")}
</svg>`;
}

/**
 * One horizontal bar per layer: how much closer to fp32 the logits get when
 * only that layer stays fp32 (the bar; it separates layers even where a small
 * held-out set moves no top-1), with the top-1 points it recovers as text.
 */
export function sensitivitySvg(rows: readonly { layer: string; top1Gain: number; meanAbsDeltaGain: number }[]): string {
  if (rows.length === 0) return "<p>No per-layer sensitivity was measured.</p>";
  const W = 720, row = 16, L = 260, R = 150, T = 10;
  const H = T + rows.length * row + 30;
  const max = Math.max(...rows.map((r) => Math.abs(r.meanAbsDeltaGain)), 1e-12);
  const bar = (d: number) => (Math.abs(d) / max) * (W - L - R);
  const bars = rows.map((r, i) => {
    const y = T + i * row;
    const helps = r.top1Gain !== 0 ? r.top1Gain > 0 : r.meanAbsDeltaGain > 0;
    const color = helps ? "#dc2626" : "#059669";
    const points = r.top1Gain === 0 ? "" : `, top-1 ${r.top1Gain > 0 ? "+" : ""}${r.top1Gain.toFixed(1)} pts`;
    return `<text x="${L - 6}" y="${y + 11}" text-anchor="end">${esc(r.layer.length > 40 ? `…${r.layer.slice(-39)}` : r.layer)}</text><rect x="${L}" y="${y + 3}" width="${bar(r.meanAbsDeltaGain).toFixed(1)}" height="${row - 5}" fill="${color}"/><text x="${L + bar(r.meanAbsDeltaGain) + 4}" y="${y + 11}">${r.meanAbsDeltaGain.toPrecision(2)}${points}</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="per-layer sensitivity">
<style>text{font:11px sans-serif;fill:#333}</style>
${bars.join("\n")}
<text x="10" y="${H - 6}">mean |Δlogit| vs fp32 removed by keeping only this layer in fp32 (red: keeping it fp32 helps: top-1 recovered, else logits closer)</text>
</svg>`;
}
