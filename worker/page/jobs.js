// @ts-check
// The long-video path: a resumable upload (POST /v1/uploads, PUT each part,
// POST …/complete: worker/src/uploads/), then a job on the stored video
// (POST /v1/jobs, polled at GET /v1/jobs/:id until it ends), then its files.
import { call, json, sendJson } from "./api.js";

/** Parts in flight at once, and tries per part. */
const CONCURRENCY = 3;
const ATTEMPTS = 3;
const TERMINAL = new Set(["completed", "partial", "failed", "cancelled"]);

/** A name the upload API accepts: A-Z a-z 0-9 . _ -, starting with a letter or digit. */
const safeName = (/** @type {string} */ name) => name.replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^[^A-Za-z0-9]+/, "").slice(0, 200) || "video.mp4";

/**
 * Uploads the file in the parts the server asks for; answers the stored video.
 * @param {File} file
 * @param {{ overwrite: boolean, onProgress: (bytesDone: number, bytes: number) => void }} options
 * @returns {Promise<{ key: string, bytes: number, video: { durationSeconds: number } }>}
 */
export async function uploadVideo(file, { overwrite, onProgress }) {
  const upload = await json("/v1/uploads", sendJson("POST", { filename: safeName(file.name), bytes: file.size, contentType: "video/mp4", overwrite }));
  const todo = Array.from({ length: upload.parts }, (_, i) => i + 1);
  let bytesDone = 0;
  onProgress(0, file.size);
  const sender = async () => {
    for (let n = todo.shift(); n !== undefined; n = todo.shift()) {
      const part = file.slice((n - 1) * upload.partSize, n * upload.partSize);
      await retried(() => call(`/v1/uploads/${upload.uploadId}/parts/${n}`, { method: "PUT", headers: { "Content-Type": "application/octet-stream" }, body: part }));
      bytesDone += part.size;
      onProgress(bytesDone, file.size);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, todo.length) }, sender));
  return json(`/v1/uploads/${upload.uploadId}/complete`, { method: "POST" });
}

/**
 * A part sent again after a network failure or a 5xx (the server keeps the parts it has).
 * @param {() => Promise<Response>} send
 */
async function retried(send) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (error) {
      const status = /** @type {{ status?: number }} */ (error).status;
      if (attempt >= ATTEMPTS || (status !== undefined && status < 500)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** attempt));
    }
  }
}

/**
 * Starts a job on a stored video and polls it until it ends.
 * @param {{ video: string, clipsPerVideo: number, model: string, version: string, topk: number }} request
 * @param {(job: any) => void} onUpdate called with each status (shape: worker/src/jobs/schema.ts)
 * @param {number} [pollMs]
 * @returns {Promise<any>} the ended job
 */
export async function runJob(request, onUpdate, pollMs = 1000) {
  const created = await json("/v1/jobs", sendJson("POST", request));
  for (;;) {
    const job = await json(created.links.self);
    onUpdate(job);
    if (TERMINAL.has(job.status)) return job;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/**
 * The job's files as blob: URLs (the requests carry the API key, a plain link could not),
 * and its timeline page's SVG as an image.
 * @param {string} jobId
 * @returns {Promise<{ timelineSvg: string | null, files: { name: string, url: string, type: string }[] }>}
 */
export async function jobFiles(jobId) {
  const names = [
    ["results.csv", "CSV, one row per clip"],
    ["results.vtt", "WebVTT subtitles, one cue per segment"],
    ["timeline", "the timeline page"],
  ];
  const blobs = await Promise.all(names.map(async ([name]) => (await call(`/v1/jobs/${jobId}/${name}`)).blob()));
  const files = names.map(([name, type], i) => ({ name: `${jobId}-${name === "timeline" ? "timeline.html" : name}`, type, url: URL.createObjectURL(blobs[i]) }));
  // The page's SVG cut out of its HTML as text and shown as an image: never parsed
  // into this document, whose CSP would refuse the page's inline styles.
  const html = await blobs[2].text();
  const from = html.indexOf("<svg");
  const to = html.lastIndexOf("</svg>");
  const timelineSvg = from >= 0 && to > from ? URL.createObjectURL(new Blob([html.slice(from, to + "</svg>".length)], { type: "image/svg+xml" })) : null;
  return { timelineSvg, files };
}
