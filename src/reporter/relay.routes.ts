// Owns the Customer.io-compatible relay API: POST /api/v1/metrics, /api/v1/push/events and
// /push/events, with Customer.io's bodies and answers (200 `{}`; 400 `{"meta":{"errors":[...]}}`).
// Open by default like Customer.io; with RELAY_CREDENTIALS set, Basic auth must match one pair (the
// official client sends Site ID / API key as Basic auth on every call, so it works unchanged).
import Router from "@koa/router";
import { koaBody } from "koa-body";
import type { Next } from "koa";
import { basicCredentials } from "../core/basic-auth.js";
import type { Config } from "../core/config.js";
import { withDeadline } from "../core/deadline.js";
import { HttpError, unavailableOr } from "../core/errors.js";
import type { AppContext, AppState } from "../core/http.js";
import { isJsonObject } from "../events/event.js";
import type { RelayService } from "./relay.service.js";
import type { RelayKind } from "./relay-body.js";

const cioError = (status: number, code: string, errors: string[], headers: Record<string, string> = {}) =>
  new HttpError(status, code, errors.join("; "), headers, { meta: { errors } });

export function basicAuth(pairs: readonly string[]) {
  const credentials = basicCredentials(pairs);
  return async (ctx: AppContext, next: Next) => {
    if (credentials.configured && !credentials.matches(ctx.get("authorization"))) {
      throw cioError(401, "unauthorized", ["unauthorized: Basic credentials do not match RELAY_CREDENTIALS"], { "www-authenticate": 'Basic realm="relay"' });
    }
    await next();
  };
}

export function relayRoutes(config: Config["relay"], relay: Pick<RelayService, "accept">, commitTimeoutMs: number): Router<AppState> {
  const router = new Router<AppState>();
  const parse = koaBody({ json: true, jsonStrict: true, jsonLimit: config.bodyLimitBytes, urlencoded: false, text: false, multipart: false });
  const jsonBody = async (ctx: AppContext, next: Next) => {
    if (!ctx.is("application/json", "+json")) throw cioError(415, "unsupported_media_type", ["Content-Type must be application/json"]);
    try {
      await parse(ctx, async () => undefined);
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (status === 413) throw cioError(413, "payload_too_large", [`body is larger than ${config.bodyLimitBytes} bytes`]);
      throw cioError(400, "invalid_json", [`body is not valid JSON: ${(err as Error).message}`]);
    }
    await next();
  };

  const handler = (kind: RelayKind) => async (ctx: AppContext) => {
    const body: unknown = ctx.request.body;
    if (!isJsonObject(body)) throw cioError(400, "invalid_body", ["body must be a JSON object"]);
    const outcome = await withDeadline(relay.accept(kind, body), commitTimeoutMs).catch((err: unknown) => {
      ctx.state.log.warn({ err: (err as Error).message }, "relayed call not stored");
      throw unavailableOr(err, "The metric could not be stored right now; retry later");
    });
    if (!outcome.ok) throw cioError(400, "invalid_metric", outcome.errors);
    ctx.status = 200;
    ctx.body = {};
  };

  const auth = basicAuth(config.credentials);
  router.post("/api/v1/metrics", auth, jsonBody, handler("metric"));
  router.post("/api/v1/push/events", auth, jsonBody, handler("push_event"));
  router.post("/push/events", auth, jsonBody, handler("push_event"));
  return router;
}
