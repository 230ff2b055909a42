// The webhook a job calls when it ends: its summary POSTed as JSON to the
// URL the user gave, signed the way Stripe signs (so existing verification
// code is familiar):
//   Edgevid-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
// A receiver recomputes the HMAC over the raw body with its secret, compares
// in constant time, and refuses timestamps older than a few minutes (replays):
// verifyWebhookSignature below does exactly that.
// The URL passes the same SSRF check as video URLs, redirects are not
// followed (they could lead inside), failures are retried with bounded
// exponential backoff, and nothing is ever thrown into the caller: the job
// is finished whether or not its receiver listens.
import { ApiError } from "../errors.ts";
import { checkUrl } from "../mp4/ssrf.ts";
import type { Job } from "./schema.ts";

export const SIGNATURE_HEADER = "Edgevid-Signature";

export interface WebhookTarget {
  url: string;
  secret: string;
}

export interface WebhookOptions {
  /** Tries in all (default 4: the first and 3 retries). */
  attempts?: number;
  /** Delay before the first retry, doubled for each next one (default 1 s). */
  baseDelayMs?: number;
  /** Cap on any one delay, also on a Retry-After the receiver asks for (default 8 s). */
  maxDelayMs?: number;
  /** Per attempt (default 10 s). */
  timeoutMs?: number;
  fetcher?: (url: string, init: RequestInit) => Promise<Response>;
}

export interface WebhookOutcome {
  delivered: boolean;
  attempts: number;
  /** The last answer's HTTP status, if any came. */
  status?: number;
  /** Why it was not delivered. */
  error?: string;
}

/** What the receiver gets: the job without its per-clip lists (GET /v1/jobs/:id has them). */
export type WebhookJob = Omit<Job, "clips" | "failures">;

const encoder = new TextEncoder();
const hex = (bytes: ArrayBuffer) => [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");

async function hmac(secret: string, message: string): Promise<ArrayBuffer> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return crypto.subtle.sign("HMAC", key, encoder.encode(message));
}

/** The Edgevid-Signature header value for `body` sent at unix time `t`. */
export async function signWebhook(body: string, secret: string, t: number): Promise<string> {
  return `t=${t},v1=${hex(await hmac(secret, `${t}.${body}`))}`;
}

/** Equal strings, in time that does not depend on where they differ. */
function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/**
 * For receivers: whether `header` (the Edgevid-Signature value) signs the raw
 * `body` with `secret`, made within `toleranceSeconds` of `now` (unix seconds).
 * Any v1 entry may match (several appear while a secret is rotated).
 */
export async function verifyWebhookSignature(
  body: string,
  header: string | null,
  secret: string,
  { toleranceSeconds = 300, now = Date.now() / 1000 }: { toleranceSeconds?: number; now?: number } = {},
): Promise<boolean> {
  if (!header) return false;
  const fields = header.split(",").map((f) => f.trim().split("=", 2) as [string, string | undefined]);
  const t = Number(fields.find(([k]) => k === "t")?.[1]);
  if (!Number.isInteger(t) || Math.abs(now - t) > toleranceSeconds) return false;
  const expected = hex(await hmac(secret, `${t}.${body}`));
  return fields.some(([k, v]) => k === "v1" && v !== undefined && constantTimeEqual(v, expected));
}

/** Delay before retry `n` (1-based): base·2^(n−1), capped. */
export function backoffDelay(n: number, baseMs: number, maxMs: number): number {
  return Math.min(baseMs * 2 ** (n - 1), maxMs);
}

/** Worth another try: the receiver is down, overloaded or slow; other 4xx mean it refuses. */
const retryable = (status: number) => status >= 500 || status === 408 || status === 429;

/** Retry-After in seconds (the HTTP-date form is not used by anyone we call). */
function retryAfterMs(response: Response): number | undefined {
  const value = Number(response.headers.get("retry-after"));
  return Number.isFinite(value) && value >= 0 ? value * 1000 : undefined;
}

/** POSTs the job's summary to the webhook; never throws. */
export async function notifyWebhook(job: WebhookJob & Partial<Pick<Job, "clips" | "failures">>, target: WebhookTarget, options: WebhookOptions = {}): Promise<WebhookOutcome> {
  const { attempts = 4, baseDelayMs = 1000, maxDelayMs = 8000, timeoutMs = 10_000, fetcher = (url, init) => fetch(url, init) } = options;
  let url: URL;
  try {
    url = checkUrl(target.url, "the webhook URL");
  } catch (error) {
    return { delivered: false, attempts: 0, error: error instanceof ApiError ? error.message : String(error) };
  }
  const { clips: _clips, failures: _failures, ...summary } = job;
  const body = JSON.stringify({ type: `job.${job.status}`, job: summary });
  let outcome: WebhookOutcome = { delivered: false, attempts: 0 };
  for (let n = 1; n <= attempts; n++) {
    let wait = backoffDelay(n, baseDelayMs, maxDelayMs);
    try {
      const signature = await signWebhook(body, target.secret, Math.floor(Date.now() / 1000));
      const response = await fetcher(url.href, {
        method: "POST",
        body,
        headers: { "Content-Type": "application/json", "User-Agent": "edgevid-webhook/1", [SIGNATURE_HEADER]: signature },
        redirect: "manual",
        signal: AbortSignal.timeout(timeoutMs),
      });
      await response.body?.cancel();
      outcome = { delivered: response.ok, attempts: n, status: response.status };
      if (response.ok) return outcome;
      outcome.error = `${url.host} answered HTTP ${response.status}`;
      if (!retryable(response.status)) return outcome;
      wait = Math.min(retryAfterMs(response) ?? wait, maxDelayMs);
    } catch (error) {
      outcome = { delivered: false, attempts: n, error: `POST ${url.host} failed: ${(error as Error).message}` };
    }
    if (n < attempts) await new Promise((resolve) => setTimeout(resolve, wait));
  }
  return outcome;
}
