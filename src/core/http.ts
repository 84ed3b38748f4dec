// Owns the Koa application shell: request ids, one access-log line per request, and the single place
// where errors become responses. Capabilities mount their routers on it; nothing here knows them.
import { randomUUID } from "node:crypto";
import type Router from "@koa/router";
import Koa from "koa";
import { HttpError } from "./errors.js";
import type { Logger } from "./logger.js";

export interface AppState {
  requestId: string;
  log: Logger;
}

export type AppContext = Koa.ParameterizedContext<AppState>;

const REQUEST_ID = /^[\w.:-]{1,128}$/;

export function createHttpApp(log: Logger, routers: Router<AppState>[], options: { trustProxy?: boolean } = {}): Koa<AppState> {
  const app = new Koa<AppState>({ asyncLocalStorage: false });
  app.proxy = options.trustProxy ?? false;
  app.silent = true; // errors are logged by the middleware below, once

  app.use(async (ctx, next) => {
    const started = process.hrtime.bigint();
    const given = ctx.get("x-request-id");
    ctx.state.requestId = REQUEST_ID.test(given) ? given : randomUUID();
    ctx.state.log = log.child({ requestId: ctx.state.requestId });
    ctx.set("x-request-id", ctx.state.requestId);
    try {
      await next();
      if (ctx.status === 404 && ctx.body == null) throw new HttpError(404, "not_found", `No route for ${ctx.method} ${ctx.path}`);
    } catch (err) {
      respondWithError(ctx, err);
    }
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const line = { method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(ms * 10) / 10 };
    if (ctx.status >= 500) ctx.state.log.warn(line, "request");
    else ctx.state.log.info(line, "request");
  });

  for (const router of routers) app.use(router.routes()).use(router.allowedMethods({ throw: true }));
  return app;
}

function respondWithError(ctx: AppContext, err: unknown): void {
  let status = 500;
  let code = "internal_error";
  let message = "Internal error";
  let extra: Record<string, unknown> = {};
  if (err instanceof HttpError) {
    extra = err.extra;
    ({ status, code, message } = err);
    for (const [k, v] of Object.entries(err.headers)) ctx.set(k, v);
  } else if (isHttpishError(err)) {
    // Errors from Koa, the router (405, 501) and body parsers carry an expose-able status.
    status = err.status;
    code = status === 413 ? "payload_too_large" : status === 415 ? "unsupported_media_type" : status === 405 ? "method_not_allowed" : "bad_request";
    message = err.expose ? err.message : (STATUS_TEXT[status] ?? "Request rejected");
    if (err.headers) for (const [k, v] of Object.entries(err.headers)) ctx.set(k, String(v));
  }
  if (status >= 500 && !(err instanceof HttpError)) ctx.state.log?.error({ err }, "unhandled error");
  ctx.status = status;
  ctx.body = { ...extra, error: code, message, requestId: ctx.state.requestId };
}

const STATUS_TEXT: Record<number, string> = {
  400: "Bad request",
  405: "Method not allowed",
  413: "Request body too large",
  415: "Unsupported content type",
};

function isHttpishError(err: unknown): err is { status: number; message: string; expose?: boolean; headers?: Record<string, unknown> } {
  const status = (err as { status?: unknown })?.status;
  return typeof status === "number" && status >= 400 && status < 500;
}
