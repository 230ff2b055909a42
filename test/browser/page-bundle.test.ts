// The playground's files in the Worker as it deploys: `wrangler deploy
// --dry-run` bundles them as Text modules (wrangler.toml's ?raw rule), and
// Miniflare with the bundle's explicit module list (worker/scripts/local-worker.ts,
// used by the benchmarks and the end-to-end test) serves them byte for byte.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Miniflare } from "miniflare";
import { afterAll, beforeAll, expect, it } from "vitest";
import { bundleWorker, startBundledWorker } from "../../worker/scripts/local-worker.ts";

const dist = mkdtempSync(join(tmpdir(), "edgevid-page-bundle-"));
const PAGE = fileURLToPath(new URL("../../worker/page/", import.meta.url));
let mf: Miniflare;
let url: URL;

beforeAll(async () => {
  bundleWorker(dist);
  mf = startBundledWorker(dist, "index.js", { quiet: true });
  url = await mf.ready;
}, 300_000);

afterAll(async () => {
  await mf?.dispose();
  rmSync(dist, { recursive: true, force: true });
});

it("serves the page and every file in worker/page/ as it is there", async () => {
  const TYPES: Record<string, RegExp> = { html: /^text\/html; charset=utf-8$/i, js: /^text\/javascript; charset=utf-8$/, css: /^text\/css; charset=utf-8$/ };
  const files = readdirSync(PAGE);
  expect(files).toContain("index.html");
  for (const file of files) {
    const path = file === "index.html" ? "/" : `/page/${file}`;
    const res = await fetch(new URL(path, url));
    expect(res.status, path).toBe(200);
    expect(res.headers.get("content-type"), path).toMatch(TYPES[file.split(".").pop()!]);
    expect(res.headers.get("content-security-policy"), path).toMatch(/^default-src 'none'; script-src 'self'; style-src 'self';/);
    expect(await res.text(), path).toBe(readFileSync(join(PAGE, file), "utf8"));
  }
});
