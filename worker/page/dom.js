// @ts-check
// DOM helpers for the playground. Elements are built from properties, never
// from HTML strings: labels and messages from the API stay text, not markup.

/**
 * An element with properties (textContent, className, alt, …) and children.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, unknown>} [props]
 * @param {(Node | string)[]} [children]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  node.replaceChildren(...children);
  Object.assign(node, props);
  return node;
}

/**
 * An SVG element with attributes.
 * @param {string} tag
 * @param {Record<string, string | number>} [attrs]
 * @param {(Node | string)[]} [children]
 * @returns {SVGElement}
 */
export function svg(tag, attrs = {}, children = []) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  node.replaceChildren(...children);
  return /** @type {SVGElement} */ (node);
}

/**
 * The element with this id, checked to be of the expected kind.
 * @template {object} T
 * @param {string} id
 * @param {{ new (): T }} type
 * @returns {T}
 */
export function byId(id, type) {
  const node = document.getElementById(id);
  if (!(node instanceof type)) throw new Error(`#${id} is not a ${type.name}`);
  return node;
}

// Tableau 10 + 2, as the job timeline page uses (worker/src/jobs/timeline.ts): a label keeps its colour.
const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#1f77b4", "#8c564b"];

/** @param {number} labelIndex the label's index in the model's labels */
export const colour = (labelIndex) => PALETTE[Math.max(labelIndex, 0) % PALETTE.length];

/** @param {number} score a probability */
export const percent = (score) => `${(score * 100).toFixed(score >= 0.995 || score < 0.001 ? 0 : 1)}%`;

/** @param {number} seconds */
export const seconds = (seconds) => `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;

/** @param {number} bytes */
export function size(bytes) {
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
