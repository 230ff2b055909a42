// The README's pictures of the playground page (GET /): a short video of a
// moving square classified with explain on, shot whole in Debian's chromium
// at a desktop (1280×800) and a phone (375×740) viewport into
//   docs/playground-desktop.png   docs/playground-phone.png
// Usage: npx tsx scripts/screenshot-page.ts [--url http://127.0.0.1:8787]
// (without --url it starts its own `npm start` on a free port).
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { makeMp4, openBrowser, startWorker } from "../test/browser/harness.ts";

const DOCS = fileURLToPath(new URL("../docs", import.meta.url));
const { values } = parseArgs({ options: { url: { type: "string" } } });

const work = mkdtempSync(join(tmpdir(), "edgevid-shots-"));
const worker = values.url ? undefined : await startWorker();
const url = values.url ?? worker!.url;
try {
  // A test-pattern square moving left over a plain background: the heatmaps show against it.
  const video = makeMp4(join(work, "moving-square.mp4"), 6, "color=c=0x39485a:s=160x120:r=10[bg];testsrc2=s=56x56:r=10[fg];[bg][fg]overlay=x='100-14*t':y=32[out0]");
  for (const [name, viewport] of [["desktop", { width: 1280, height: 800 }], ["phone", { width: 375, height: 740 }]] as const) {
    const browsing = await openBrowser(viewport);
    try {
      const { page } = browsing;
      await page.goto(`${url}/`);
      await page.waitForFunction(() => document.querySelector("#model option")?.getAttribute("value") === "0");
      await page.setInputFiles("#file", video);
      await page.fill("#clips", "5");
      await page.check("#explain");
      await page.click("#go");
      await page.waitForSelector("#result:not([hidden])", { timeout: 120_000 });
      await page.locator("body").evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
      const out = join(DOCS, `playground-${name}.png`);
      await page.screenshot({ path: out, fullPage: true });
      if (browsing.problems.length) throw new Error(`the page reported problems:\n${browsing.problems.join("\n")}`);
      console.log(`${out}: ${(statSync(out).size / 1024).toFixed(0)} KB`);
    } finally {
      await browsing.close();
    }
  }
} finally {
  await worker?.stop();
  rmSync(work, { recursive: true, force: true });
}
