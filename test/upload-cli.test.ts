// `npm run upload` against the real Worker bundle (Miniflare, real R2), through
// a proxy that drops connections: a part whose connection drops is retried;
// when a part keeps failing the command stops, says how to resume, and the
// next run sends only the missing part (the server's list of stored parts is
// the truth), completes, and R2 holds exactly the file. A file that is not a
// video is refused and not kept.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleWorker, startBundledWorker } from "../worker/scripts/local-worker.ts";

const dir = mkdtempSync(join(tmpdir(), "edgevid-upload-"));
const PART = 5 * 1024 * 1024;

/** A small H.264 MP4 (moov first) padded with a top-level "free" box to `total` bytes. */
function paddedMp4(total: number): Buffer {
  const small = join(dir, "small.mp4");
  const r = spawnSync("ffmpeg", ["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10", "-t", "2", "-c:v", "libx264", "-threads", "1", "-g", "10", "-pix_fmt", "yuv420p", "-movflags", "+faststart", small]);
  expect(r.status, String(r.stderr)).toBe(0);
  const mp4 = readFileSync(small);
  const out = Buffer.alloc(total);
  mp4.copy(out);
  out.writeUInt32BE(total - mp4.length, mp4.length);
  out.write("free", mp4.length + 4, "latin1");
  for (let i = mp4.length + 8; i < total; i++) out[i] = i % 251;
  return out;
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

interface Seen {
  method: string;
  path: string;
  dropped: boolean;
}

/** What the proxy does with a request: forward it (false), drop its connection halfway (true), or answer 429 itself. */
type Policy = (req: IncomingMessage, n: number) => boolean | 429;

/** Forwards to the Worker; `drop` decides which requests lose their connection halfway through. */
function proxy(target: string, seen: Seen[], drop: { current: Policy }): Promise<{ server: Server; url: string }> {
  const server = createServer(async (req, res) => {
    const path = req.url ?? "/";
    const n = seen.filter((s) => s.method === req.method && s.path === path).length;
    const action = drop.current(req, n);
    const dropped = action === true;
    seen.push({ method: req.method ?? "", path, dropped });
    if (action === 429) {
      req.resume();
      res.writeHead(429, { "retry-after": "1", "content-type": "application/json" }).end('{"error":{"code":"rate_limited","message":"slow down"}}');
      return;
    }
    if (dropped) {
      req.once("data", () => req.socket.destroy());
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !["host", "connection", "transfer-encoding"].includes(k))) as Record<string, string>;
    const answer = await fetch(new URL(path, target), { method: req.method, headers, body: chunks.length ? Buffer.concat(chunks) : undefined });
    // fetch has already decoded the body: its encoding and length headers no longer apply.
    res.writeHead(answer.status, Object.fromEntries([...answer.headers].filter(([k]) => k !== "content-encoding" && k !== "content-length")));
    res.end(Buffer.from(await answer.arrayBuffer()));
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` })));
}

/** Runs the CLI without blocking this process (the proxy lives in it). */
function upload(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn("npx", ["tsx", "worker/scripts/upload.ts", ...args], { env: { ...process.env, XDG_CACHE_HOME: join(dir, "cache") } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

describe("npm run upload", { timeout: 240_000 }, () => {
  let mf: Miniflare;
  let server: Server;
  let url = "";
  const seen: Seen[] = [];
  const drop: { current: Policy } = { current: () => false };

  beforeAll(async () => {
    const dist = join(dir, "dist");
    bundleWorker(dist);
    mf = startBundledWorker(dist);
    ({ server, url } = await proxy((await mf.ready).toString(), seen, drop));
  }, 240_000);

  afterAll(async () => {
    server?.close();
    await mf?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it("retries a dropped part, stops when one keeps failing, and the next run resumes with only the missing part", async () => {
    const file = join(dir, "lecture one.mp4");
    const bytes = paddedMp4(2 * PART + 4321);
    writeFileSync(file, bytes);
    const args = [file, "--url", url, "--part-size", String(PART), "--concurrency", "1", "--retries", "1"];

    // Part 2 loses its first connection (retried), part 3 every one.
    drop.current = (req, n) => req.method === "PUT" && ((req.url!.endsWith("/parts/2") && n === 0) || req.url!.endsWith("/parts/3"));
    const first = await upload(...args);
    expect(first.status, first.stderr).toBe(1);
    expect(first.stderr).toMatch(/upload (up_[0-9a-f]{32}): 2 of 3 parts stored; run the same command again to resume/);
    expect(first.stderr).toContain("retrying in 1.0 s");
    const uploadId = /(up_[0-9a-f]{32})/.exec(first.stderr)![1];
    const puts = (from: number) => seen.slice(from).filter((s) => s.method === "PUT").map((s) => `${s.path.split("/").at(-1)}${s.dropped ? " dropped" : ""}`);
    expect(puts(0)).toEqual(["1", "2 dropped", "2", "3 dropped", "3 dropped"]);

    drop.current = () => false;
    const before = seen.length;
    const second = await upload(...args);
    expect(second.status, second.stderr).toBe(0);
    expect(second.stderr).toContain(`resuming upload ${uploadId}: 2 of 3 parts already stored`);
    expect(second.stderr).toMatch(/\[#{30}\] 10\.0\/10\.0 MiB {2}part 3\/3/);
    expect(seen.slice(before).map((s) => `${s.method} ${s.path}`)).toEqual([`GET /v1/uploads/${uploadId}`, `PUT /v1/uploads/${uploadId}/parts/3`, `POST /v1/uploads/${uploadId}/complete`]);
    const result = JSON.parse(second.stdout);
    expect(result).toMatchObject({ key: "videos/anonymous/lecture_one.mp4", bytes: bytes.length, uploadId, resumedParts: 2, sentParts: 1, video: { width: 160, height: 120 } });

    const object = await (await mf.getR2Bucket("VIDEOS")).get(result.key);
    expect(sha256(new Uint8Array(await object!.arrayBuffer()))).toBe(sha256(bytes));
  });

  it("waits out the rate limit (429, Retry-After) without using up its tries", async () => {
    const file = join(dir, "limited.mp4");
    writeFileSync(file, paddedMp4(PART + 10));
    // Two 429s for part 1, and --retries 0: only a real failure would end the run.
    drop.current = (req, n) => (req.method === "PUT" && req.url!.endsWith("/parts/1") && n < 2 ? 429 : false);
    const before = seen.length;
    const r = await upload(file, "--url", url, "--part-size", String(PART), "--concurrency", "1", "--retries", "0");
    drop.current = () => false;
    expect(r.status, r.stderr).toBe(0);
    expect(seen.slice(before).filter((s) => s.path.endsWith("/parts/1"))).toHaveLength(3);
    expect(JSON.parse(r.stdout)).toMatchObject({ key: "videos/anonymous/limited.mp4", bytes: PART + 10 });
  });

  it("a file that is not a video is refused at completion and not kept; usage mistakes exit 2", async () => {
    const file = join(dir, "notes.mp4");
    writeFileSync(file, "these are not frames\n".repeat(100));
    const r = await upload(file, "--url", url);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/upload: POST \/v1\/uploads\/up_[0-9a-f]{32}\/complete: HTTP 422 not_mp4: .*it is not an MP4/);
    expect(await (await mf.getR2Bucket("VIDEOS")).head("videos/anonymous/notes.mp4")).toBeNull();

    const missing = await upload(join(dir, "nope.mp4"), "--url", url);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain("nope.mp4: ENOENT");
    expect((await upload()).status).toBe(2);
    expect((await upload(file, "--concurrency", "x")).stderr).toContain("--concurrency must be a positive integer");
  });
});
