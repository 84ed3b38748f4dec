// Owns POST /webhooks/customerio: raw bytes -> signature -> JSON object -> normalized event -> committed
// (group commit) -> 200. A correctly signed event is never rejected for its content; only a body that
// is not a JSON object gets a 400, and a failure to store answers 503 quickly so Customer.io retries.
import Router from "@koa/router";
import type { Config } from "../core/config.js";
import { badRequest, unauthorized, unavailableOr } from "../core/errors.js";
import { withDeadline } from "../core/deadline.js";
import type { AppState } from "../core/http.js";
import { metrics } from "../core/metrics.js";
import { readRawBody } from "../core/raw-body.js";
import { isJsonObject, normalizeEvent } from "../events/event.js";
import type { EventSink } from "../events/event-store.js";
import { verifySignature } from "./signature.js";

export const WEBHOOK_PATH = "/webhooks/customerio";

/**
 * `onReceived` is told of every webhook answered 200 (stored, or a duplicate): how silence is noticed.
 * It must not wait for anything (it runs before the answer is sent).
 */
export function webhookRoutes(config: Config["webhooks"], store: EventSink, onReceived: () => void = () => undefined): Router<AppState> {
  const router = new Router<AppState>();

  router.post(WEBHOOK_PATH, async (ctx) => {
    const raw = await readRawBody(ctx.req, config.bodyLimitBytes);
    if (!config.skipSignature) {
      const check = verifySignature(ctx.get("x-cio-signature") || undefined, ctx.get("x-cio-timestamp") || undefined, raw, {
        keys: config.signingKeys,
        toleranceSeconds: config.toleranceSeconds,
      });
      if (!check.ok) throw unauthorized(check.reason, check.message);
    }

    const text = raw.toString("utf8");
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw badRequest("invalid_json", `Body is not valid JSON: ${(err as Error).message}`);
    }
    if (!isJsonObject(parsed)) {
      throw badRequest("not_an_object", `Body must be one JSON object (one event per request), got ${Array.isArray(parsed) ? "an array" : typeof parsed === "object" ? "null" : `a ${typeof parsed}`}`);
    }

    const event = normalizeEvent(parsed, text, "webhook");
    let outcome;
    try {
      outcome = await withDeadline(store.store({ event }), config.timeoutMs);
    } catch (err) {
      ctx.state.log.warn({ eventId: event.eventId, reason: (err as Error).message }, "webhook not stored");
      throw unavailableOr(err, "The event could not be stored right now; retry later");
    }
    onReceived();
    if (outcome.status === "stored") metrics.webhookEventLag(event.occurredAt, event.receivedAt);
    ctx.status = 200;
    ctx.body = { ok: true, event_id: event.eventId, duplicate: outcome.status === "duplicate" };
  });

  return router;
}
