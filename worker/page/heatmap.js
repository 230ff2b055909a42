// @ts-check
// A heatmap over a keyframe: the explain output's coarse H'×W' grid (values in
// [0, 1], row-major) coloured, then drawn scaled up with smoothing onto a
// canvas that lies over the thumbnail. Low values stay nearly transparent so
// the frame shows through where the model did not look.

// Stops of a perceptual "inferno"-like ramp: dark purple → red → yellow.
const STOPS = [
  [0, [20, 11, 52]],
  [0.35, [120, 28, 109]],
  [0.6, [212, 72, 66]],
  [0.8, [250, 153, 8]],
  [1, [252, 255, 164]],
];

/**
 * @param {number} v in [0, 1]
 * @returns {[number, number, number, number]} RGBA
 */
export function colourOf(v) {
  const x = Math.min(1, Math.max(0, Number.isFinite(v) ? v : 0));
  let i = 1;
  while (i < STOPS.length - 1 && x > /** @type {number} */ (STOPS[i][0])) i++;
  const [x0, c0] = /** @type {[number, number[]]} */ (STOPS[i - 1]);
  const [x1, c1] = /** @type {[number, number[]]} */ (STOPS[i]);
  const t = (x - x0) / (x1 - x0);
  const mix = (/** @type {number} */ k) => Math.round(c0[k] + (c1[k] - c0[k]) * t);
  return [mix(0), mix(1), mix(2), Math.round(255 * (0.15 + 0.65 * x))];
}

/**
 * Draws the grid over the whole canvas.
 * @param {HTMLCanvasElement} canvas
 * @param {{ h: number, w: number }} grid
 * @param {number[]} values h*w values, row-major
 */
export function drawHeatmap(canvas, grid, values) {
  const cells = new ImageData(grid.w, grid.h);
  values.forEach((v, i) => cells.data.set(colourOf(v), i * 4));
  const small = document.createElement("canvas");
  small.width = grid.w;
  small.height = grid.h;
  small.getContext("2d")?.putImageData(cells, 0, 0);
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
}

/**
 * The mean of several heatmaps of one grid (a keyframe that several clip slots use).
 * @param {number[][]} maps
 * @returns {number[]}
 */
export function meanMap(maps) {
  return maps[0].map((_, i) => maps.reduce((sum, m) => sum + (m[i] ?? 0), 0) / maps.length);
}
