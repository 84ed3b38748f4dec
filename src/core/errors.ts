// Owns the errors that carry an HTTP answer, and how any error maps to one. Code throws these; the one
// middleware in http.ts turns them into responses (JSON for APIs, an HTML page for pages) and logs
// unexpected ones once.
import { DeadlineError } from "./deadline.js";

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
/** 503 means one thing here: it could not be committed (or read) now; the same request later may succeed. */
export const unavailable = (message: string, retryAfterSeconds = 5) => new HttpError(503, "unavailable", message, { "retry-after": String(retryAfterSeconds) });

// Node's network errors, pg-pool's and PostgreSQL's own codes for "the server cannot answer now":
// connection failures (08), shutdown or recovery (57P0x), statement timeouts and cancels (57014), too
// many connections (53300), serialization failures and deadlocks (40001, 40P01: a retry succeeds).
const UNAVAILABLE_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENOTFOUND", "57014", "57P01", "57P02", "57P03", "53300", "40001", "40P01"]);
const UNAVAILABLE_MESSAGES = /timeout exceeded when trying to connect|Connection terminated|Query read timeout|Client has encountered a connection error|connection is closed|cannot use a pool after calling end/i;

/** Whether an error means the database cannot answer now (a retry later may succeed). */
export function isUnavailable(err: unknown): boolean {
  if (err instanceof DeadlineError) return true;
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === "string" ? e.code : "";
  return UNAVAILABLE_CODES.has(code) || code.startsWith("08") || (typeof e?.message === "string" && UNAVAILABLE_MESSAGES.test(e.message));
}

const CODES: Record<number, string> = {
  400: "bad_request",
  404: "not_found",
  405: "method_not_allowed",
  408: "request_timeout",
  411: "length_required",
  413: "payload_too_large",
  414: "uri_too_long",
  415: "unsupported_media_type",
  431: "headers_too_large",
};
const TEXTS: Record<number, string> = {
  400: "Bad request",
  404: "Not found",
  405: "Method not allowed",
  413: "Request body too large",
  415: "Unsupported content type",
};

/**
 * Any error as an HttpError: ours as they are; those of Koa, the router and the body parsers (4xx with a
 * status) as their status; a database that cannot answer as 503; anything else as 500 (`unexpected`).
 */
export function toHttpError(err: unknown): { error: HttpError; unexpected: boolean } {
  if (err instanceof HttpError) return { error: err, unexpected: false };
  const e = err as { status?: unknown; message?: unknown; expose?: boolean; headers?: Record<string, unknown> } | null;
  if (typeof e?.status === "number" && e.status >= 400 && e.status < 500) {
    const headers = Object.fromEntries(Object.entries(e.headers ?? {}).map(([k, v]) => [k, String(v)]));
    const message = e.expose && typeof e.message === "string" ? e.message : (TEXTS[e.status] ?? "Request rejected");
    return { error: new HttpError(e.status, CODES[e.status] ?? "bad_request", message, headers), unexpected: false };
  }
  if (isUnavailable(err)) return { error: unavailable("The database is not answering right now; retry later"), unexpected: false };
  return { error: new HttpError(500, "internal_error", "Internal error"), unexpected: true };
}

/**
 * For a route that could not commit: the error as a 503 with the route's own message when it means
 * "not now" (database unavailable, deadline passed, a queue full), else the error itself (a 4xx stays a
 * 4xx, and a bug is a 500, not a 503 that invites retrying forever).
 */
export function unavailableOr(err: unknown, message: string): Error {
  const { error } = toHttpError(err);
  if (error.status !== 503) return err as Error;
  return unavailable(message, Number(error.headers["retry-after"] ?? 5));
}
