// Owns the errors that carry an HTTP answer. Code throws these; one middleware in http.ts turns them
// into responses (JSON for APIs) and logs unexpected ones once.
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    /** Extra fields for the JSON answer (e.g. Customer.io's `meta.errors` on the relay). */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "HttpError";
  }
}

export const badRequest = (code: string, message: string) => new HttpError(400, code, message);
export const unauthorized = (code: string, message: string) => new HttpError(401, code, message);
export const payloadTooLarge = (message: string) => new HttpError(413, "payload_too_large", message);
export const unavailable = (message: string) => new HttpError(503, "unavailable", message, { "retry-after": "5" });
