// @ts-check
// The playground page (GET /): picks the input (file picker or drop), the
// model (GET /v1/models) and options, classifies (POST /v1/classify) or tags a
// long video as a job, and shows the answer. Rendering lives in results.js,
// the long-video path in jobs.js, API calls and errors in api.js.
import { ApiError, apiKey, describeError, json } from "./api.js";
import { byId, h, percent, seconds, size } from "./dom.js";
import { jobFiles, runJob, uploadVideo } from "./jobs.js";
import { renderBars, renderKeyframes, renderTiming, renderTimeline } from "./results.js";

const form = byId("form", HTMLFormElement);
const fileInput = byId("file", HTMLInputElement);
const drop = byId("drop", HTMLDivElement);
const chosen = byId("chosen", HTMLParagraphElement);
const modelSelect = byId("model", HTMLSelectElement);
const topk = byId("topk", HTMLInputElement);
const clips = byId("clips", HTMLInputElement);
const keyInput = byId("key", HTMLInputElement);
const explain = byId("explain", HTMLInputElement);
const explainLabel = byId("explain-label", HTMLSelectElement);
const asJob = byId("as-job", HTMLInputElement);
const jobClips = byId("job-clips", HTMLInputElement);
const overwrite = byId("overwrite", HTMLInputElement);
const go = byId("go", HTMLButtonElement);
const status = byId("status", HTMLParagraphElement);
const errorBox = byId("error", HTMLDivElement);

/** @typedef {{ id: string, version: string, latest: boolean, source: string, labels: string[] }} Model */
/** @type {Model[]} */
let models = [];

// ---- Input ---------------------------------------------------------------

/** @param {File} f */
const isVideo = (f) => f.type === "video/mp4" || /\.mp4$/i.test(f.name);
/** @param {File} f */
const isImage = (f) => f.type === "image/jpeg" || f.type === "image/png" || /\.(jpe?g|png)$/i.test(f.name);

/** The chosen input: one MP4, or frames in file-name order; else why not. */
function input() {
  const files = [...(fileInput.files ?? [])];
  if (files.length === 0) return { problem: "Choose an MP4 video, or the JPEG/PNG frames of one clip." };
  if (files.length === 1 && isVideo(files[0])) return { video: files[0] };
  if (files.every(isImage)) return { frames: files.sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true })) };
  return { problem: "Choose one MP4 video, or only JPEG/PNG frames (not both, not other files)." };
}

function showChoice() {
  const { video, frames, problem } = input();
  if (video) chosen.textContent = `${video.name} (${size(video.size)})`;
  else if (frames) chosen.textContent = `${frames.length} frame${frames.length === 1 ? "" : "s"}: ${frames.map((f) => f.name).join(", ")}`;
  else chosen.textContent = fileInput.files?.length ? problem ?? "" : "";
}

fileInput.addEventListener("change", showChoice);
drop.addEventListener("dragover", (event) => {
  event.preventDefault();
  drop.classList.add("over");
});
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  if (!event.dataTransfer?.files.length) return;
  // The picker stays the one source of the input, whichever way the files came.
  fileInput.files = event.dataTransfer.files;
  showChoice();
});

// ---- Models and options --------------------------------------------------

async function loadModels() {
  try {
    models = (await json("/v1/models")).models;
    modelSelect.replaceChildren(...models.map((m, i) => h("option", { value: String(i), textContent: `${m.id} v${m.version}${m.latest ? " (latest)" : ""}${m.source === "bundled" ? ", bundled" : ""}` })));
    clearError();
  } catch (error) {
    models = [];
    modelSelect.replaceChildren(h("option", { value: "", textContent: "no models (see the error)" }));
    showError(error);
  }
  fillLabels();
}

function selectedModel() {
  return models[Number(modelSelect.value)];
}

function fillLabels() {
  const labels = selectedModel()?.labels ?? [];
  explainLabel.replaceChildren(h("option", { value: "", textContent: "the top label" }), ...labels.map((l) => h("option", { value: l, textContent: l })));
}

modelSelect.addEventListener("change", fillLabels);
explain.addEventListener("change", () => (explainLabel.disabled = !explain.checked));
// Each path's own options are the ones enabled.
asJob.addEventListener("change", () => {
  jobClips.disabled = overwrite.disabled = !asJob.checked;
  clips.disabled = explain.disabled = asJob.checked;
  explainLabel.disabled = asJob.checked || !explain.checked;
  go.textContent = asJob.checked ? "Upload and tag" : "Classify";
});
keyInput.value = apiKey.get();
keyInput.addEventListener("change", () => {
  apiKey.set(keyInput.value.trim());
  void loadModels();
});

/** A positive integer field, or undefined when empty. */
const count = (/** @type {HTMLInputElement} */ field) => (field.value.trim() === "" ? undefined : Math.max(1, Math.floor(Number(field.value))) || undefined);

// ---- Status and errors ---------------------------------------------------

/** @param {string} text */
const say = (text) => (status.textContent = text);

/**
 * @param {unknown} error
 * @param {{ label: string, run: () => void }} [retry] a way on, offered as a button
 */
function showError(error, retry) {
  const { title, hint, accepted, code } = describeError(error);
  errorBox.replaceChildren(
    h("p", { className: "title", textContent: title }),
    ...(hint ? [h("p", { textContent: hint })] : []),
    ...(accepted ? [h("p", { className: "accepted", textContent: `Accepted: ${accepted}` })] : []),
    ...(code ? [h("p", { className: "code", textContent: code })] : []),
    ...(retry ? [h("button", { type: "button", textContent: retry.label, onclick: retry.run })] : []),
  );
  errorBox.hidden = false;
  say("");
}

function clearError() {
  errorBox.hidden = true;
  errorBox.replaceChildren();
}

// ---- Classify ------------------------------------------------------------

/**
 * @param {{ video?: File, frames?: File[] }} chosenInput
 * @param {Model} model
 */
async function classify({ video, frames }, model) {
  const query = new URLSearchParams({ model: model.id, version: model.version, thumbnails: "1" });
  const k = count(topk);
  if (k) query.set("topk", String(Math.min(k, model.labels.length)));
  const n = count(clips);
  if (video && n) query.set("clips", String(n));
  if (explain.checked) {
    query.set("explain", "1");
    if (explainLabel.value) query.set("label", explainLabel.value);
  }
  const body = new FormData();
  if (video) body.append("video", video);
  for (const f of frames ?? []) body.append("frames", f);
  say(`Classifying ${video ? video.name : `${frames?.length} frames`}…`);
  const answer = await json(`/v1/classify?${query}`, { method: "POST", body });
  renderAnswer(answer, model);
  say(`Done: ${answer.top[0].label} (${percent(answer.top[0].score)}) in ${answer.timing.totalMs.toFixed(0)} ms.`);
}

/**
 * @param {any} answer POST /v1/classify's 200 (worker/src/api-schemas.ts)
 * @param {Model} model
 */
function renderAnswer(answer, model) {
  // Shown first: the timeline takes its width from the page.
  byId("result", HTMLElement).hidden = false;
  /** @param {{ label: string, index?: number }} p */
  const labelIndex = (p) => p.index ?? model.labels.indexOf(p.label);
  const what = answer.video
    ? `${answer.video.width}×${answer.video.height}, ${seconds(answer.video.durationSeconds)}, ${answer.clips.length} clip${answer.clips.length === 1 ? "" : "s"} of ${answer.frames.perClip} frames (${answer.frames.decoded} keyframes decoded)`
    : `${answer.frames.received} frames received, ${answer.frames.used} used`;
  byId("summary", HTMLParagraphElement).textContent = `${answer.model.id} v${answer.model.version} · ${what}`;
  renderBars(byId("top", HTMLOListElement), answer.top, labelIndex);

  renderTiming(byId("timing", HTMLTableElement), timingOf(answer));

  const timelinePart = byId("timeline-part", HTMLElement);
  timelinePart.hidden = !answer.clips;
  if (answer.clips) renderTimeline(byId("timeline", HTMLDivElement), answer.clips, answer.video.durationSeconds, labelIndex);

  const keyframesPart = byId("keyframes-part", HTMLElement);
  const note = byId("keyframes-note", HTMLParagraphElement);
  keyframesPart.hidden = !answer.keyframes?.length;
  if (answer.keyframes?.length) {
    const overlaid = renderKeyframes(byId("keyframes", HTMLUListElement), answer.keyframes, answer.explain);
    note.textContent = answer.explain
      ? `Heatmaps for “${answer.explain.label}” on ${overlaid} of ${answer.keyframes.length} keyframes (${answer.explain.grid.h}×${answer.explain.grid.w} grid; bright is where the model looked).`
      : "Tick “Explain” to see where the model looked.";
  }
}

/**
 * The answer's timing, the explain pass (when the answer has one) as a step before the total.
 * @param {any} answer
 * @returns {Record<string, number>}
 */
function timingOf(answer) {
  const { totalMs, ...steps } = answer.timing;
  if (answer.explain && steps.explainMs === undefined) steps.explainMs = answer.explain.ms;
  return { ...steps, totalMs };
}

// ---- Long videos ---------------------------------------------------------

/** @type {string[]} */
let blobUrls = [];

/**
 * @param {File} video
 * @param {Model} model
 */
async function tagLongVideo(video, model) {
  const section = byId("job", HTMLElement);
  const step = byId("job-step", HTMLLabelElement);
  const progress = byId("job-progress", HTMLProgressElement);
  const jobStatus = byId("job-status", HTMLParagraphElement);
  const result = byId("job-result", HTMLDivElement);
  for (const url of blobUrls) URL.revokeObjectURL(url);
  blobUrls = [];
  section.hidden = false;
  result.hidden = true;
  step.textContent = "Uploading";
  say(`Uploading ${video.name}…`);
  const stored = await uploadVideo(video, {
    overwrite: overwrite.checked,
    onProgress(done, bytes) {
      progress.max = bytes;
      progress.value = done;
      jobStatus.textContent = `Uploaded ${size(done)} of ${size(bytes)}`;
    },
  });

  step.textContent = "Tagging";
  say(`Tagging ${stored.key}…`);
  progress.removeAttribute("value"); // indeterminate until the job reports its clips
  const k = count(topk);
  const job = await runJob({ video: stored.key, clipsPerVideo: count(jobClips) ?? 16, model: model.id, version: model.version, topk: Math.min(k ?? 5, model.labels.length) }, (update) => {
    const { done, failed, total } = update.progress;
    progress.max = total;
    progress.value = done + failed;
    jobStatus.textContent = `${update.status}: ${done} of ${total} clips tagged${failed ? `, ${failed} failed` : ""}`;
  });
  if (job.status === "failed") throw new Error(`The job failed: ${job.error?.message ?? "every clip failed"}.`);

  const files = await jobFiles(job.id);
  blobUrls = [...files.files.map((f) => f.url), ...(files.timelineSvg ? [files.timelineSvg] : [])];
  renderBars(byId("job-tags", HTMLOListElement), job.tags, (p) => job.labels.indexOf(p.label));
  const timeline = byId("job-timeline", HTMLImageElement);
  timeline.hidden = !files.timelineSvg;
  if (files.timelineSvg) timeline.src = files.timelineSvg;
  timeline.alt = `Timeline of ${job.video.key}: ${job.segments.map((/** @type {any} */ s) => `${seconds(s.start)}–${seconds(s.end)} ${s.label}`).join("; ")}`;
  byId("job-links", HTMLUListElement).replaceChildren(...files.files.map((f) => h("li", {}, [h("a", { href: f.url, download: f.name, textContent: f.name }), ` (${f.type})`])));
  result.hidden = false;
  say(`Job ${job.status}: ${job.progress.done} of ${job.progress.total} clips.`);
}

// ---- Submit --------------------------------------------------------------

form.addEventListener("submit", (event) => {
  event.preventDefault();
  void submit();
});

async function submit() {
  clearError();
  const chosenInput = input();
  const model = selectedModel();
  if (chosenInput.problem) return showError(new Error(chosenInput.problem));
  if (!model) return showError(new Error("No model to use: the model list did not load."));
  if (asJob.checked && !chosenInput.video) return showError(new Error("A job tags an MP4 video: choose one, or untick “Tag as a long video”."));
  go.disabled = true;
  form.ariaBusy = "true";
  // One answer on the page at a time.
  byId("result", HTMLElement).hidden = byId("job", HTMLElement).hidden = true;
  try {
    if (asJob.checked && chosenInput.video) await tagLongVideo(chosenInput.video, model);
    else await classify(chosenInput, model);
  } catch (error) {
    const withoutExplain = error instanceof ApiError && error.code === "explain_unavailable";
    showError(
      error,
      withoutExplain
        ? {
            label: "Classify without explain",
            run() {
              explain.checked = false;
              explainLabel.disabled = true;
              form.requestSubmit();
            },
          }
        : undefined,
    );
  } finally {
    go.disabled = false;
    form.ariaBusy = "false";
  }
}

void loadModels();
