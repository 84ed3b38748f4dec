// Owns counting the answers of the public listener's write endpoints: the reporting webhook by outcome,
// and the relay APIs by endpoint and outcome. It reads the answer the HTTP shell decided (status and
// body), after every middleware ran, so answers given before a route runs (the request-body budget's
// 503, a method not allowed) are counted too.
import type { AppContext } from "../core/http.js";
import { metrics, type WebhookOutcome } from "../core/metrics.js";
import { PIPELINES_CALLS } from "../reporter/pipelines-body.js";
import { WEBHOOK_PATH } from "../webhooks/webhook.routes.js";

/** The relay's endpoints: a fixed list, so the label has a few values whatever paths clients try. */
const RELAY_PATHS = new Set(["/api/v1/metrics", "/api/v1/push/events", "/push/events", "/v1/batch", ...PIPELINES_CALLS.map((c) => `/v1/${c}`)]);

function webhookOutcome(ctx: AppContext): WebhookOutcome {
  switch (ctx.status) {
    case 200:
      return (ctx.body as { duplicate?: boolean } | null)?.duplicate === true ? "duplicate" : "stored";
    case 400:
      return "bad_body";
    case 401:
      return "bad_signature";
    case 413:
      return "too_large";
    case 503:
      return "unavailable";
    default:
      return "other";
  }
}

const RELAY_OUTCOMES: Record<number, string> = { 200: "accepted", 400: "invalid", 401: "unauthorized", 413: "too_large", 415: "unsupported_media_type", 503: "unavailable" };

/** For createHttpApp's onAnswered: counts a webhook or relayed call once its answer is decided. */
export function countAnswer(ctx: AppContext): void {
  if (ctx.method !== "POST") return;
  if (ctx.path === WEBHOOK_PATH) metrics.webhookAnswered(webhookOutcome(ctx));
  else if (RELAY_PATHS.has(ctx.path)) metrics.relayAnswered(ctx.path, RELAY_OUTCOMES[ctx.status] ?? "other");
}
