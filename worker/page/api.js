// @ts-check
// The playground's calls to the API: the API key as a Bearer header (the key
// is kept in this tab's sessionStorage, never in a URL), and the API's JSON
// errors ({"error": {"code", "message", "accepted"?}}) as ApiError, worded
// for people.

const KEY = "edgevid.apiKey";

export const apiKey = {
  get: () => sessionStorage.getItem(KEY) ?? "",
  /** @param {string} key */
  set(key) {
    if (key) sessionStorage.setItem(KEY, key);
    else sessionStorage.removeItem(KEY);
  },
};

export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   * @param {string} [accepted]
   */
  constructor(status, code, message, accepted) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.accepted = accepted;
  }
}

/**
 * A request to the API with the key; an answer that is not 2xx throws ApiError.
 * @param {string} path
 * @param {RequestInit} [init]
 * @returns {Promise<Response>}
 */
export async function call(path, init = {}) {
  const headers = new Headers(init.headers);
  const key = apiKey.get();
  if (key) headers.set("Authorization", `Bearer ${key}`);
  const res = await fetch(path, { ...init, headers });
  if (!res.ok) throw await errorOf(res);
  return res;
}

/**
 * @param {string} path
 * @param {RequestInit} [init]
 * @returns {Promise<any>} the answer's JSON (shapes: worker/src/api-schemas.ts)
 */
export async function json(path, init) {
  return (await call(path, init)).json();
}

/**
 * A JSON body to send.
 * @param {string} method
 * @param {unknown} body
 * @returns {RequestInit}
 */
export const sendJson = (method, body) => ({ method, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });

/** @param {Response} res */
async function errorOf(res) {
  const body = await res.json().catch(() => null);
  const error = body?.error;
  if (typeof error?.code === "string") return new ApiError(res.status, error.code, String(error.message), error.accepted);
  return new ApiError(res.status, `http_${res.status}`, `the server answered ${res.status} ${res.statusText}`.trim());
}

/** What the user can do about an error, where the API's own words do not say. */
const HINTS = /** @type {Record<string, string>} */ ({
  missing_api_key: "This server requires an API key: enter yours in “API key” and try again.",
  invalid_api_key: "The API key was not accepted: check the “API key” field.",
  revoked_api_key: "This API key was revoked: ask the operator for a new one.",
  body_too_large: "The file is too large for one request: tick “Tag as a long video (job)”.",
  video_exists: "Tick “Replace a stored video of the same name” to replace it.",
  explain_unavailable: "This model cannot explain its answers: classify without “Explain”.",
});

/**
 * The error as lines for people: what happened, what to do, what the API accepts.
 * @param {unknown} error
 * @returns {{ title: string, hint?: string, accepted?: string, code?: string }}
 */
export function describeError(error) {
  if (error instanceof ApiError) {
    const hint = HINTS[error.code] ?? (error.status === 401 ? HINTS.missing_api_key : undefined);
    return { title: capitalise(error.message), hint, accepted: error.accepted, code: `${error.code} (HTTP ${error.status})` };
  }
  // fetch rejects with a TypeError when the server cannot be reached at all.
  if (error instanceof TypeError) return { title: `The request failed: ${error.message}`, hint: "Is the server still running?" };
  return { title: error instanceof Error ? error.message : String(error) };
}

/** @param {string} text */
const capitalise = (text) => text.charAt(0).toUpperCase() + text.slice(1);
