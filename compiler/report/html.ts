// report.html: one self-contained page (inline CSS and SVG, no scripts).
import type { Report, ReportCandidate } from "./schema.ts";
import { esc, scatterSvg, sensitivitySvg } from "./svg.ts";

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const msCell = (t: ReportCandidate["web"]) => (t ? `${t.medianMs.toFixed(1)} <small>[${t.q1Ms.toFixed(1)}–${t.q3Ms.toFixed(1)}]</small>` : "—");

function candidateTable(report: Report): string {
  const fp32 = report.candidates.find((c) => c.selectable && c.kind === "fp32");
  const verdicts = new Map(report.decision.verdicts.map((v) => [v.name, v]));
  const rows = report.candidates.map((c) => {
    const ratio = fp32?.web && c.web ? `${(fp32.web.medianMs / c.web.medianMs).toFixed(2)}×` : "—";
    const verdict = verdicts.get(c.name);
    const status = c.name === report.decision.chosen ? "<b>chosen</b>" : verdict ? esc(verdict.note) : esc(c.note ?? (c.selectable ? "" : "for comparison"));
    return `<tr${c.name === report.decision.chosen ? ' class="chosen"' : ""}><td>${esc(c.name)}</td><td>${c.stage}</td><td>${esc(c.kind)}</td><td>${(c.top1 * 100).toFixed(1)}%</td><td>${kb(c.bytes)}</td><td>${msCell(c.web)}</td><td>${ratio}</td><td>${msCell(c.node)}</td><td>${c.peakWasmBytes !== undefined ? mib(c.peakWasmBytes) : "—"}</td><td>${status}</td></tr>`;
  });
  return `<table><thead><tr><th>candidate</th><th>stage</th><th>form</th><th>top-1</th><th>size</th><th>web ms [IQR]</th><th>speed vs fp32 (web)</th><th>node ms [IQR]</th><th>peak wasm</th><th>verdict</th></tr></thead><tbody>${rows.join("\n")}</tbody></table>`;
}

export function renderHtml(report: Report): string {
  const title = `${report.model.id}@${report.model.version}: compile report`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;max-width:1000px;margin:24px auto;padding:0 16px;color:#111}
table{border-collapse:collapse;width:100%;font-size:13px}td,th{border-bottom:1px solid #ddd;padding:4px 6px;text-align:left}
tr.chosen{background:#ecfdf5}small{color:#666}h2{margin-top:28px}ul{padding-left:20px}
</style></head><body>
<h1>${esc(title)}</h1>
<p>${esc(report.createdAt)} · held-out set: ${report.heldOut.clips} clips (${esc(report.heldOut.source)}) · accuracy budget ${report.budgetPoints} top-1 points under fp32 · memory limit ${mib(report.memoryLimitBytes)} · onnxruntime-web: wasm, 1 thread · onnxruntime-node: ${report.nodeThreads} thread${report.nodeThreads === 1 ? "" : "s"}</p>
<h2>Chosen: ${esc(report.decision.chosen)}${report.decision.forced ? " (forced)" : ""}</h2>
<ul>${report.decision.reasons.map((r) => `<li>${esc(r)}</li>`).join("")}</ul>
<h2>Candidates</h2>
${candidateTable(report)}
<h2>Accuracy, latency and size</h2>
${scatterSvg(report.candidates, report.decision.chosen)}
<h2>Per-layer sensitivity</h2>
${sensitivitySvg(report.sensitivity)}
</body></html>
`;
}
