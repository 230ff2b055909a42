// What the browser tests (and scripts/screenshot-page.ts) stand on: the Worker
// as `npm start` runs it (scripts/start.sh: wrangler dev) on a free port with
// its own local state, Debian's chromium driven by playwright-core with a
// fresh profile, and small real H.264 MP4s made by ffmpeg.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type BrowserContext, type Page } from "playwright-core";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const CHROMIUM = "/usr/bin/chromium";

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface RunningWorker {
  url: string;
  /** What the server printed (its last 20,000 characters), for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

/** `npm start` (scripts/start.sh) on a free port with a temporary state directory; resolves once /healthz answers. */
export async function startWorker(timeoutMs = 240_000): Promise<RunningWorker> {
  const state = mkdtempSync(join(tmpdir(), "edgevid-page-state-"));
  const port = await freePort();
  // Its own process group, so stopping it ends wrangler and workerd too.
  const child = spawn("bash", ["scripts/start.sh"], { cwd: REPO, env: { ...process.env, PORT: String(port), PERSIST_TO: state }, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const keep = (chunk: Buffer) => (output = (output + chunk.toString("utf8")).slice(-20_000));
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    try {
      process.kill(-child.pid!, "SIGTERM");
    } catch {
      // already gone
    }
    const killed = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 10_000))]);
    if (!killed) process.kill(-child.pid!, "SIGKILL");
    rmSync(state, { recursive: true, force: true });
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`npm start exited with ${child.exitCode}:\n${output}`);
    const up = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
    if (up) return { url, log: () => output, stop };
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`npm start did not answer /healthz in ${timeoutMs / 1000} s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

export interface Browsing {
  context: BrowserContext;
  page: Page;
  /** Every URL the page requested. */
  requests: string[];
  /** Console errors, uncaught exceptions and CSP violations. */
  problems: string[];
  close(): Promise<void>;
}

/** Debian's chromium, headless, with a fresh profile; one page that records its requests and problems. */
export async function openBrowser(viewport = { width: 1280, height: 800 }): Promise<Browsing> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)`);
  const profile = mkdtempSync(join(tmpdir(), "edgevid-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  const requests: string[] = [];
  const problems: string[] = [];
  context.on("request", (request) => requests.push(request.url()));
  // Reported as console errors too; the event names the directive and what it blocked.
  await context.addInitScript(() => document.addEventListener("securitypolicyviolation", (e) => console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI}`)));
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`exception: ${error.message}`));
  return {
    context,
    page,
    requests,
    problems,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * A small H.264 MP4 (moov first), `seconds` long at 10 fps with a keyframe
 * every half second, of a lavfi source (default ffmpeg's moving test pattern).
 */
export function makeMp4(path: string, seconds: number, source = "testsrc2=size=160x120:rate=10"): string {
  execFileSync("ffmpeg", ["-v", "error", "-y", "-f", "lavfi", "-i", source, "-t", String(seconds), "-c:v", "libx264", "-threads", "1", "-g", "5", "-pix_fmt", "yuv420p", "-movflags", "+faststart", path]);
  return path;
}
