// @ts-check
// The parts of a classify answer on the page: label bars, the timing
// breakdown, the clips' timeline (SVG) and the keyframes with their heatmaps.
import { colour, h, percent, seconds, svg } from "./dom.js";
import { drawHeatmap, meanMap } from "./heatmap.js";

/** @typedef {{ label: string, score: number, index?: number }} Prediction */
/** @typedef {{ start: number, end: number, keyframeTimes: number[], top: Prediction[] }} Clip */
/** @typedef {{ time: number | null, image: string }} Keyframe */
/** @typedef {{ label: string, index: number, grid: { t: number, h: number, w: number }, clips: { start: number | null, end: number | null, frames: { time: number | null, heatmap: number[] }[] }[], ms: number }} Explain */

/**
 * One row per label: its name, a bar as long as its score, the score.
 * @param {HTMLOListElement} list
 * @param {Prediction[]} predictions
 * @param {(p: Prediction) => number} labelIndex the label's index in the model's labels (its colour)
 */
export function renderBars(list, predictions, labelIndex) {
  list.replaceChildren(
    ...predictions.map((p) => {
      const bar = h("span", { className: "bar" });
      // CSSOM properties, which the page's CSP allows (style attributes it does not).
      bar.style.width = `${Math.max(0.5, p.score * 100)}%`;
      bar.style.backgroundColor = colour(labelIndex(p));
      return h("li", {}, [h("span", { className: "label", textContent: p.label }), h("span", { className: "track", ariaHidden: "true" }, [bar]), h("span", { className: "score", textContent: percent(p.score) })]);
    }),
  );
}

const STEPS = /** @type {Record<string, string>} */ ({
  indexMs: "index the MP4",
  readMs: "read keyframes",
  decodeMs: "decode",
  preprocessMs: "resize and crop",
  thumbnailsMs: "thumbnails",
  inferenceMs: "run the model",
  explainMs: "explain",
  totalMs: "total",
});

/**
 * The answer's `timing` (and the explain pass's ms) as a table with bars relative to the total.
 * @param {HTMLTableElement} table
 * @param {Record<string, number>} timing
 */
export function renderTiming(table, timing) {
  const total = timing.totalMs || Math.max(...Object.values(timing), 1);
  const rows = Object.entries(timing).map(([key, ms]) => {
    const bar = h("span", { className: "bar" });
    bar.style.width = `${Math.min(100, (ms / total) * 100)}%`;
    return h("tr", { className: key === "totalMs" ? "total" : "" }, [
      h("th", { scope: "row", textContent: STEPS[key] ?? key.replace(/Ms$/, "") }),
      h("td", { className: "ms", textContent: `${ms.toFixed(ms < 10 ? 1 : 0)} ms` }),
      h("td", { className: "track", ariaHidden: "true" }, [bar]),
    ]);
  });
  table.replaceChildren(h("caption", { className: "sr-only", textContent: "Milliseconds per step" }), h("tbody", {}, rows));
}

const H = 160;
const PAD = { left: 40, right: 12, top: 10, bottom: 28 };

/**
 * Each clip's top label and its score over the video's time: a dot per clip at
 * its centre, coloured by label, joined by a line.
 * @param {HTMLElement} box
 * @param {Clip[]} clips
 * @param {number} duration seconds
 * @param {(p: Prediction) => number} labelIndex
 */
export function renderTimeline(box, clips, duration, labelIndex) {
  // As wide as its box (within reason), so its text stays legible on a phone.
  const W = Math.min(640, Math.max(300, box.clientWidth || 640));
  const span = Math.max(duration, ...clips.map((c) => c.end), 1e-3);
  const x = (/** @type {number} */ t) => PAD.left + (t / span) * (W - PAD.left - PAD.right);
  const y = (/** @type {number} */ p) => PAD.top + (1 - p) * (H - PAD.top - PAD.bottom);
  const points = clips.map((c) => ({ clip: c, cx: x((c.start + c.end) / 2), cy: y(c.top[0].score) }));
  const describe = (/** @type {Clip} */ c) => `${seconds(c.start)}–${seconds(c.end)}: ${c.top[0].label} ${percent(c.top[0].score)}`;
  const parts = [
    ...[0, 0.5, 1].flatMap((p) => [
      svg("line", { x1: PAD.left, x2: W - PAD.right, y1: y(p), y2: y(p), class: "gridline" }),
      svg("text", { x: PAD.left - 6, y: y(p) + 4, "text-anchor": "end" }, [`${p * 100}%`]),
    ]),
    ...ticks(span, Math.max(3, Math.floor(W / 80))).flatMap((t) => [svg("line", { x1: x(t), x2: x(t), y1: H - PAD.bottom, y2: H - PAD.bottom + 5, class: "axis" }), svg("text", { x: x(t), y: H - 8, "text-anchor": "middle" }, [`${t} s`])]),
    svg("line", { x1: PAD.left, x2: W - PAD.right, y1: H - PAD.bottom, y2: H - PAD.bottom, class: "axis" }),
    svg("polyline", { points: points.map((p) => `${p.cx.toFixed(1)},${p.cy.toFixed(1)}`).join(" "), class: "trace" }),
    ...points.map((p) => svg("circle", { cx: p.cx.toFixed(1), cy: p.cy.toFixed(1), r: 5, fill: colour(labelIndex(p.clip.top[0])) }, [svg("title", {}, [describe(p.clip)])])),
  ];
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `Top label per clip: ${clips.map(describe).join("; ")}` }, parts);
  const labels = [...new Map(clips.map((c) => [c.top[0].label, c.top[0]])).values()];
  const legend = h(
    "ul",
    { className: "legend" },
    labels.map((p) => {
      const swatch = h("span", { className: "swatch", ariaHidden: "true" });
      swatch.style.backgroundColor = colour(labelIndex(p));
      return h("li", {}, [swatch, p.label]);
    }),
  );
  box.replaceChildren(chart, legend);
}

/**
 * @param {number} span seconds
 * @param {number} maxTicks
 */
function ticks(span, maxTicks) {
  const step = [0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600].find((s) => span / s <= maxTicks) ?? Math.ceil(span / maxTicks / 600) * 600;
  return Array.from({ length: Math.floor(span / step + 1e-9) + 1 }, (_, i) => Math.round(i * step * 100) / 100);
}

/**
 * Thumbnails of the keyframes with their times; with an explain answer, each
 * keyframe's heatmap over it (the mean over the clip slots that use it).
 * @param {HTMLUListElement} list
 * @param {Keyframe[]} keyframes
 * @param {Explain | undefined} explain
 * @returns {number} how many keyframes got a heatmap
 */
export function renderKeyframes(list, keyframes, explain) {
  const maps = explain ? heatmapsByKeyframe(keyframes, explain) : [];
  let overlaid = 0;
  list.replaceChildren(
    ...keyframes.map((frame, i) => {
      const when = frame.time === null ? `frame ${i + 1}` : seconds(frame.time);
      const img = h("img", { src: frame.image, alt: `Keyframe ${i + 1} at ${when}, centre crop`, width: 112, height: 112, decoding: "async" });
      /** @type {HTMLElement[]} */
      const layers = [img];
      const mine = maps[i];
      if (explain && mine?.length) {
        overlaid++;
        const canvas = h("canvas", { width: 128, height: 128, className: "heat", ariaHidden: "true" });
        drawHeatmap(canvas, explain.grid, meanMap(mine));
        img.alt += `, with the heatmap for ${explain.label}`;
        layers.push(canvas);
      }
      return h("li", {}, [h("figure", {}, [h("div", { className: "frame" }, layers), h("figcaption", { textContent: when })])]);
    }),
  );
  return overlaid;
}

/**
 * The heatmaps that belong on each keyframe. A clip slot's heatmap goes on the
 * keyframe with its time. Uploaded frames have no times: the API fills the T
 * slots with a uniform temporal subsample of them (contract/sampling.ts
 * uniformIndices), so slot t shows the distinct frame ⌊t(u−1)/(T−1)⌋ of u.
 * @param {Keyframe[]} keyframes
 * @param {Explain} explain
 * @returns {number[][][]} per keyframe, its heatmaps
 */
function heatmapsByKeyframe(keyframes, explain) {
  /** @type {number[][][]} */
  const maps = keyframes.map(() => []);
  const cells = explain.grid.h * explain.grid.w;
  const u = keyframes.length;
  for (const clip of explain.clips) {
    const slots = clip.frames.length;
    clip.frames.forEach(({ time, heatmap }, t) => {
      if (heatmap.length !== cells) return;
      const at = time === null ? (slots === 1 ? 0 : Math.floor((t * (u - 1)) / (slots - 1))) : keyframes.findIndex((k) => k.time !== null && Math.abs(k.time - time) < 1e-6);
      if (at >= 0) maps[at].push(heatmap);
    });
  }
  return maps;
}
