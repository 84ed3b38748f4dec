// Owns the Koa application shell: request ids, one access-log line per request, and the single place
// where errors become responses: JSON for APIs, or the HTML page of the route's family when the route
// set one (ctx.state.errorPage) and the client did not ask for JSON; the same status either way.
// Capabilities mount their routers on it; nothing here knows them.
import { randomUUID } from "node:crypto";
import type Router from "@koa/router";
import Koa from "koa";
import { bodyBudget, type ByteBudget } from "./body-budget.js";
import { HttpError, toHttpError } from "./errors.js";
import type { Logger } from "./logger.js";

export interface AppState {
  requestId: string;
  log: Logger;
  /** Set by page routes: renders an error as their HTML page (and sets its headers). */
  errorPage?: ErrorPage;
}

export type AppContext = Koa.ParameterizedContext<AppState>;
export type ErrorPage = (error: HttpError, ctx: AppContext) => string;

const REQUEST_ID = /^[\w.:-]{1,128}$/;

export interface HttpAppOptions {
  /** Proxies of yours in front of the service (X-Forwarded-For entries trusted from the right). */
  trustProxyHops?: number;
  /** Request-body bytes held at once across all requests, and the largest body any route takes. */
  bodyBudget?: { budget: ByteBudget; maxBodyBytes: number };
  /** Told of every answer once it is decided, errors included (how /metrics counts outcomes). Must not throw or wait. */
  onAnswered?: (ctx: AppContext) => void;
}

export function createHttpApp(log: Logger, routers: Router<AppState>[], options: HttpAppOptions = {}): Koa<AppState> {
  const app = new Koa<AppState>({ asyncLocalStorage: false });
  // Koa reads the client address as the leftmost of the last `maxIpsCount` X-Forwarded-For entries:
  // the address our outermost proxy saw. Entries a client adds itself are further left, and ignored.
  app.proxy = (options.trustProxyHops ?? 0) > 0;
  app.maxIpsCount = options.trustProxyHops ?? 0;
  app.silent = true; // errors are logged by the middleware below, once

  app.use(async (ctx, next) => {
    const started = process.hrtime.bigint();
    const given = ctx.get("x-request-id");
    ctx.state.requestId = REQUEST_ID.test(given) ? given : randomUUID();
    ctx.state.log = log.child({ requestId: ctx.state.requestId });
    ctx.set("x-request-id", ctx.state.requestId);
    try {
      await next();
      if ((ctx.status === 405 || ctx.status === 501) && ctx.body == null) {
        // The router knows the path but not the method (501 for a method it has no route of at all).
        const allow = ctx.response.get("allow");
        throw new HttpError(405, "method_not_allowed", `${ctx.method} is not allowed here; use ${allow || "another method"}`, { allow });
      }
      if (ctx.status === 404 && ctx.body == null) throw new HttpError(404, "not_found", `No route for ${ctx.method} ${ctx.path}`);
    } catch (err) {
      respondWithError(ctx, err);
    }
    options.onAnswered?.(ctx);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const line = { method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(ms * 10) / 10 };
    if (ctx.status >= 500) ctx.state.log.warn(line, "request");
    else ctx.state.log.info(line, "request");
  });

  if (options.bodyBudget) app.use(bodyBudget(options.bodyBudget.budget, options.bodyBudget.maxBodyBytes));
  for (const router of routers) app.use(router.routes()).use(router.allowedMethods());
  return app;
}

/** A request whose body is JSON, or that asks for JSON before HTML, gets JSON errors even from a page route. */
const wantsJson = (ctx: AppContext) => Boolean(ctx.is("application/json", "+json")) || ctx.accepts("html", "json") === "json";

function respondWithError(ctx: AppContext, err: unknown): void {
  const { error, unexpected } = toHttpError(err);
  if (unexpected) ctx.state.log?.error({ err }, "unhandled error");
  else if (error.status === 503) ctx.state.log?.warn({ err: (err as Error)?.message }, "answering 503");
  // Headers the failed handler set (a page's CSP, a content type) do not belong to the error answer.
  for (const name of Object.keys(ctx.response.headers)) if (name !== "x-request-id") ctx.remove(name);
  for (const [k, v] of Object.entries(error.headers)) if (v !== "") ctx.set(k, v);
  ctx.status = error.status;
  if (ctx.state.errorPage && !wantsJson(ctx)) {
    ctx.body = ctx.state.errorPage(error, ctx);
    return;
  }
  ctx.body = { ...error.extra, error: error.code, message: error.message, requestId: ctx.state.requestId };
}
