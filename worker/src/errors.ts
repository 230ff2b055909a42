// Errors the API answers with. A user's mistake is an ApiError with a 4xx status
// and says what was wrong and what is accepted; a server-side problem (a broken
// model in R2) is a 5xx ApiError with a clear message; anything else is a bug
// and becomes a generic 500 (middleware.ts).
import type { ContentfulStatusCode } from "hono/utils/http-status";

export interface ErrorBody {
  error: { code: string; message: string; accepted?: string };
  requestId: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    /** What the client may send instead; omitted for server-side problems. */
    readonly accepted?: string,
  ) {
    super(message);
    this.name = "ApiError";
  }

  body(requestId: string): ErrorBody {
    const error: ErrorBody["error"] = { code: this.code, message: this.message };
    if (this.accepted !== undefined) error.accepted = this.accepted;
    return { error, requestId };
  }
}

/** A user mistake: 4xx with what is accepted. */
export function userError(status: ContentfulStatusCode, code: string, message: string, accepted: string): ApiError {
  return new ApiError(status, code, message, accepted);
}

/** A problem on our side the operator must fix (logged with the request). */
export function serverError(code: string, message: string, status: ContentfulStatusCode = 500): ApiError {
  return new ApiError(status, code, message);
}

/** zod issues as one line, "path: message; …" (`root` names an issue of the whole value). */
export function describeIssues(issues: readonly { path: readonly PropertyKey[]; message: string }[], root = "(body)"): string {
  return issues.map((i) => `${i.path.join(".") || root}: ${i.message}`).join("; ");
}
