// Writes report.json and report.html into a model's directory.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { renderHtml } from "./html.ts";
import { ReportSchema, type Report } from "./schema.ts";

export async function writeReport(dir: string, report: Report): Promise<{ json: string; html: string }> {
  const checked = ReportSchema.parse(report);
  const json = join(dir, "report.json");
  const html = join(dir, "report.html");
  await writeFile(json, `${JSON.stringify(checked, null, 2)}\n`);
  await writeFile(html, renderHtml(checked));
  return { json, html };
}
