/**
 * An error answered in OpenAI's error shape, `{ "error": { message, type, param, code } }`, with
 * an HTTP status. Every refusal the server makes is one of these, so clients written for OpenAI
 * (the official `openai` package among them) read the message as they would OpenAI's own.
 */
export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly status: number,
    message: string,
    /** OpenAI's `type`: "invalid_request_error", "authentication_error", "rate_limit_error", … */
    readonly type: string = "invalid_request_error",
    /** The request field at fault (e.g. "emotions.joy"), or null. */
    readonly param: string | null = null,
    /** A short machine-readable code (e.g. "unknown_emotion"), or null. */
    readonly code: string | null = null,
    /** Extra response headers (Retry-After for a 429). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }

  toJSON(): OpenAiErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export interface OpenAiErrorBody {
  readonly error: { readonly message: string; readonly type: string; readonly param: string | null; readonly code: string | null };
}

/** A 400 for a request field; `param` names it. */
export function invalidRequest(param: string | null, message: string, code: string | null = null): ApiError {
  return new ApiError(400, message, "invalid_request_error", param, code);
}
