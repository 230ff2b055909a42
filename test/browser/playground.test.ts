// The playground page (GET /) in a real browser (Debian's chromium through
// playwright-core) against the Worker as `npm start` serves it: an MP4 and
// dropped frames classified with keyframes and heatmaps, a long video tagged
// as a job with live progress, errors worded for people, keyboard use and a
// phone-sized screen. Every test checks that the page asked nothing of any
// other origin and logged no errors or CSP violations.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { makeMp4, openBrowser, startWorker, type Browsing, type RunningWorker } from "./harness.ts";

const TIMEOUT = 180_000;
const FRAMES = fileURLToPath(new URL("../../examples/frames/", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "edgevid-page-"));
let worker: RunningWorker;
let browsing: Browsing | undefined;
let video: string;
let longVideo: string;

beforeAll(async () => {
  worker = await startWorker();
  video = makeMp4(join(dir, "clip.mp4"), 4);
  longVideo = makeMp4(join(dir, "long.mp4"), 8);
}, 300_000);

afterEach(async () => {
  await browsing?.close();
  browsing = undefined;
});

afterAll(async () => {
  await worker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A fresh browser on the page, once its model list has loaded. */
async function open(viewport?: { width: number; height: number }): Promise<Page> {
  browsing = await openBrowser(viewport);
  const { page } = browsing;
  await page.goto(`${worker.url}/`);
  await page.waitForFunction(() => document.querySelector("#model option")?.getAttribute("value") === "0");
  return page;
}

/** Submits and waits until the page has an answer or an error. */
async function submit(page: Page): Promise<void> {
  await page.click("#go");
  await page.waitForFunction(() => !(document.getElementById("go") as HTMLButtonElement).disabled, null, { timeout: TIMEOUT });
}

/** Only this origin was asked for anything (blob: URLs the page made are of this origin), and nothing went wrong in the page. */
function expectContained(allowedErrors: RegExp[] = []): void {
  const { requests, problems } = browsing!;
  expect(requests.length).toBeGreaterThan(0);
  for (const url of requests) expect(url, "requested").toMatch(new RegExp(`^(blob:)?${worker.url.replace(/[.]/g, "\\.")}/`));
  expect(problems.filter((p) => !allowedErrors.some((allowed) => allowed.test(p)))).toEqual([]);
}

const texts = (page: Page, selector: string) => page.locator(selector).allTextContents();

describe("classify", () => {
  it(
    "an MP4 from the file picker: top labels, timeline, timing, keyframes with heatmaps",
    async () => {
      const page = await open();
      await page.setInputFiles("#file", video);
      await expect.poll(() => page.textContent("#chosen")).toMatch(/^clip\.mp4 \(\d+\.\d KB\)$/);
      await page.fill("#clips", "3");
      await page.check("#explain");
      await submit(page);
      expect(await page.isHidden("#error"), (await page.textContent("#error")) ?? "").toBe(true);
      expect(await page.textContent("#status")).toMatch(/^Done: \w+ \(\d+(\.\d)?%\) in \d+ ms\.$/);

      const labels = await texts(page, "#top .label");
      expect(labels).toHaveLength(5);
      expect(new Set(labels).size).toBe(5);
      const scores = (await texts(page, "#top .score")).map((s) => parseFloat(s));
      expect(scores).toEqual([...scores].sort((a, b) => b - a));
      expect(await page.textContent("#summary")).toContain("160×120, 4.00 s, 3 clips of 8 frames");
      expect(await page.locator("#timeline svg circle").count()).toBe(3);
      expect(await page.getAttribute("#timeline svg", "aria-label")).toMatch(/^Top label per clip: 0\.00 s–/);
      expect(await texts(page, "#timing th")).toEqual(expect.arrayContaining(["index the MP4", "decode", "run the model", "explain", "total"]));

      // The keyframes at their times (a keyframe every 0.5 s), each with a heatmap drawn.
      const captions = await texts(page, "#keyframes figcaption");
      expect(captions.length).toBeGreaterThanOrEqual(4);
      expect(captions[0]).toBe("0.00 s");
      expect(captions.every((c) => /^\d\.\d\d s$/.test(c) && (parseFloat(c) * 2) % 1 === 0)).toBe(true);
      for (const alt of await page.locator("#keyframes img").evaluateAll((imgs) => imgs.map((i) => (i as HTMLImageElement).alt))) expect(alt).toMatch(/^Keyframe \d+ at \d\.\d\d s, centre crop, with the heatmap for \w+$/);
      expect(await page.locator("#keyframes img").evaluateAll((imgs) => imgs.every((i) => (i as HTMLImageElement).naturalWidth === 64))).toBe(true);
      const painted = await page.locator("#keyframes canvas").evaluateAll((canvases) =>
        canvases.map((c) => {
          const { data } = (c as HTMLCanvasElement).getContext("2d")!.getImageData(0, 0, 128, 128);
          return data.filter((_, i) => i % 4 === 3 && data[i] > 0).length;
        }),
      );
      expect(painted).toHaveLength(captions.length);
      expect(painted.every((n) => n === 128 * 128)).toBe(true);
      expect(await page.textContent("#keyframes-note")).toMatch(/^Heatmaps for “\w+” on \d+ of \d+ keyframes \(\d+×\d+ grid/);
      expectContained();
    },
    TIMEOUT,
  );

  it(
    "JPEG frames dropped on the drop zone: one clip, each frame shown once with its heatmap",
    async () => {
      const page = await open();
      const frames = readdirSync(FRAMES).filter((f) => f.endsWith(".jpg")).sort().slice(0, 3).reverse();
      const files = frames.map((name) => ({ name, base64: readFileSync(join(FRAMES, name)).toString("base64") }));
      // A drop as the browser makes it: a DataTransfer of files, out of order (the page sorts them by name).
      await page.evaluate((files) => {
        const transfer = new DataTransfer();
        for (const f of files) transfer.items.add(new File([Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0))], f.name, { type: "image/jpeg" }));
        const zone = document.getElementById("drop")!;
        zone.dispatchEvent(new DragEvent("dragover", { dataTransfer: transfer, bubbles: true, cancelable: true }));
        zone.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
      }, files);
      expect(await page.textContent("#chosen")).toBe("3 frames: frame00.jpg, frame01.jpg, frame02.jpg");
      await page.check("#explain");
      await submit(page);
      expect(await page.isHidden("#error"), (await page.textContent("#error")) ?? "").toBe(true);
      expect(await page.textContent("#summary")).toContain("3 frames received, 3 used");
      expect(await page.isHidden("#timeline-part")).toBe(true); // one clip: no timeline
      expect(await texts(page, "#keyframes figcaption")).toEqual(["frame 1", "frame 2", "frame 3"]);
      expect(await page.locator("#keyframes canvas").count()).toBe(3);
      expectContained();
    },
    TIMEOUT,
  );
});

describe("long videos", () => {
  it(
    "tags an MP4 as a job: upload, live progress, tags, the timeline and the CSV/WebVTT downloads",
    async () => {
      const page = await open();
      // Every status line the page shows, as it shows it.
      await page.evaluate(() => {
        const seen: string[] = ((window as unknown as { seen: string[] }).seen = []);
        const line = document.getElementById("job-status")!;
        new MutationObserver(() => seen.push(line.textContent ?? "")).observe(line, { childList: true, characterData: true, subtree: true });
      });
      await page.setInputFiles("#file", longVideo);
      await page.check("#as-job");
      expect(await page.textContent("#go")).toBe("Upload and tag");
      expect(await page.isDisabled("#explain")).toBe(true);
      await page.fill("#job-clips", "6");
      await submit(page);
      expect(await page.isHidden("#error"), (await page.textContent("#error")) ?? "").toBe(true);

      const seen = await page.evaluate(() => (window as unknown as { seen: string[] }).seen);
      expect(seen).toContainEqual(expect.stringMatching(/^Uploaded \d+\.\d KB of \d+\.\d KB$/));
      expect(seen).toContainEqual(expect.stringMatching(/^(queued|running): [0-5] of 6 clips tagged$/));
      expect(seen.at(-1)).toBe("completed: 6 of 6 clips tagged");
      expect(await page.evaluate(() => [(document.getElementById("job-progress") as HTMLProgressElement).value, (document.getElementById("job-progress") as HTMLProgressElement).max])).toEqual([6, 6]);
      expect(await page.textContent("#status")).toBe("Job completed: 6 of 6 clips.");

      expect(await page.locator("#job-tags li").count()).toBe(5);
      const timeline = page.locator("#job-timeline");
      expect(await timeline.evaluate((img) => (img as HTMLImageElement).complete && (img as HTMLImageElement).naturalWidth)).toBe(960);
      expect(await timeline.getAttribute("alt")).toMatch(/^Timeline of videos\/anonymous\/long\.mp4: 0\.00 s–/);

      // The links download what the API answered (fetched with the key, as blob: URLs).
      const bodies: string[] = [];
      const names: string[] = [];
      for (const link of await page.locator("#job-links a").all()) {
        const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
        names.push(download.suggestedFilename());
        bodies.push(readFileSync(await download.path(), "utf8"));
      }
      expect(names).toEqual([expect.stringMatching(/^job_[0-9a-f]{32}-results\.csv$/), expect.stringMatching(/-results\.vtt$/), expect.stringMatching(/-timeline\.html$/)]);
      expect(bodies[0].split("\r\n")).toHaveLength(1 + 6 + 1); // header, a row per clip, the final CRLF
      expect(bodies[0]).toMatch(/^clip,start,end,/);
      expect(bodies[1]).toMatch(/^WEBVTT\r?\n/);
      expect(bodies[2]).toMatch(/^<!doctype html>/);
      expectContained();
    },
    TIMEOUT,
  );
});

describe("errors", () => {
  it(
    "a refused API key: the 401 is explained, the key goes only in the Authorization header and this tab's storage",
    async () => {
      const page = await open();
      const sent: { url: string; auth?: string }[] = [];
      page.on("request", (r) => sent.push({ url: r.url(), auth: r.headers().authorization }));
      await page.fill("#key", "edgevid_not-a-real-key");
      await page.press("#key", "Tab"); // change: the models are asked for again with the key
      await page.waitForSelector("#error:not([hidden])");
      expect(await page.textContent("#error .title")).toBe("The API key is not one this service issued");
      expect(await texts(page, "#error p")).toContain("The API key was not accepted: check the “API key” field.");
      expect(await page.textContent("#error .code")).toBe("invalid_api_key (HTTP 401)");
      expect(sent).toContainEqual({ url: `${worker.url}/v1/models`, auth: "Bearer edgevid_not-a-real-key" });
      expect(sent.every((r) => !r.url.includes("not-a-real-key"))).toBe(true);
      expect(await page.evaluate(() => [sessionStorage.getItem("edgevid.apiKey"), localStorage.length, document.cookie])).toEqual(["edgevid_not-a-real-key", 0, ""]);
      expectContained([/status of 401/]);
    },
    TIMEOUT,
  );

  it(
    "a model without explain output (409 explain_unavailable): the message, and a button to classify without explain",
    async () => {
      const page = await open();
      // The bundled model explains; stand in the answer a model without a class map gets.
      await page.route((url) => url.pathname === "/v1/classify" && url.searchParams.get("explain") === "1", (route) =>
        route.fulfill({ status: 409, contentType: "application/json", body: JSON.stringify({ error: { code: "explain_unavailable", message: "the model was compiled without --explain", accepted: "explain=0" }, requestId: "x" }) }),
      );
      await page.setInputFiles("#file", video);
      await page.check("#explain");
      await submit(page);
      expect(await page.textContent("#error .title")).toBe("The model was compiled without --explain");
      expect(await texts(page, "#error p")).toContain("This model cannot explain its answers: classify without “Explain”.");
      await page.click("#error button");
      await page.waitForSelector("#result:not([hidden])", { timeout: TIMEOUT });
      expect(await page.isChecked("#explain")).toBe(false);
      expect(await page.isHidden("#error")).toBe(true);
      expect(await page.locator("#keyframes canvas").count()).toBe(0);
      expect(await page.textContent("#keyframes-note")).toBe("Tick “Explain” to see where the model looked.");
      expectContained([/status of 409/]);
    },
    TIMEOUT,
  );
});

describe("accessibility", () => {
  it(
    "keyboard: every control is reached by Tab with a visible focus ring and a label; Enter submits; the error is announced",
    async () => {
      const page = await open();
      const reached: { id: string; name: string; outline: string }[] = [];
      for (let i = 0; i < 20; i++) {
        await page.keyboard.press("Tab");
        const focused = await page.evaluate(() => {
          const el = document.activeElement as HTMLInputElement | HTMLButtonElement | null;
          if (!el || el === document.body) return null;
          const labels = "labels" in el && el.labels ? [...el.labels].map((l) => l.textContent?.trim()) : [];
          const style = getComputedStyle(el);
          return { id: el.id, name: labels.join(" ") || el.textContent?.trim() || "", outline: `${style.outlineStyle} ${style.outlineWidth}` };
        });
        if (focused) reached.push(focused);
      }
      const ids = reached.map((r) => r.id);
      for (const id of ["file", "model", "topk", "clips", "key", "explain", "as-job", "go"]) expect(ids, id).toContain(id);
      for (const r of reached.filter((r) => r.id)) {
        expect(r.name, r.id).not.toBe("");
        expect(r.outline, r.id).toBe("solid 3px");
      }
      expect(ids.indexOf("file")).toBeLessThan(ids.indexOf("go"));

      await page.focus("#go");
      await page.keyboard.press("Enter"); // no file chosen
      expect(await page.getAttribute("#error", "role")).toBe("alert");
      expect(await page.textContent("#error .title")).toBe("Choose an MP4 video, or the JPEG/PNG frames of one clip.");
      expect(await page.getAttribute("#status", "aria-live")).toBe("polite");
      expect(await page.getAttribute("#job-status", "aria-live")).toBe("polite");
      expect(await page.locator("label[for=job-progress]").count()).toBe(1);
      expectContained();
    },
    TIMEOUT,
  );

  it(
    "a phone-sized screen (375×740): one column, no horizontal scrolling before or after an answer",
    async () => {
      const page = await open({ width: 375, height: 740 });
      const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(await overflow()).toBeLessThanOrEqual(0);
      await page.setInputFiles("#file", video);
      await page.fill("#clips", "4");
      await page.check("#explain");
      await submit(page);
      expect(await page.isVisible("#result")).toBe(true);
      expect(await overflow()).toBeLessThanOrEqual(0);
      const boxes = await page.locator("#form .field").evaluateAll((fields) => fields.map((f) => f.getBoundingClientRect().right));
      expect(Math.max(...boxes)).toBeLessThanOrEqual(375);
      expectContained();
    },
    TIMEOUT,
  );
});
