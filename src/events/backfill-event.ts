// Owns how a message read from Customer.io's App API (GET /v1/messages) becomes events: one per metric
// it reports (the App API gives the first time of each metric, no event ids), with ids of our own
// (`backfill:<delivery_id>:<App API metric name>`), so reading the same message again gives the same
// events and stores nothing twice. Each event's payload is `{app_metric, message}`: the message as the
// App API gave it, so replay rebuilds the same event from it, and names we do not map stay readable.
//
// Names without a reporting-webhook equivalent are mapped deliberately:
// - `human_opened` / `human_clicked`: an `opened` / `clicked` that is not a machine one;
// - `opened` / `clicked`: the first open / click of any kind. When it is the same instant as the human
//   one it is that event (stored once). It is a machine open when the first human open came later, or
//   when `prefetch_opened` is the same instant; a machine click when the first human click came later;
//   otherwise a human one, as a webhook `opened` without `prefetched: true` is;
// - `prefetch_opened` and any name we do not know: kept in the payload only.
// A message with no metric we map still gets its delivery row, from one event without a metric
// (`backfill:<delivery_id>:message`, at its `created` time).
import { STATUS_PRECEDENCE } from "../../entities/delivery-status.js";
import { boundedKey, isJsonObject, jsonbSafe, normalizeEvent, type JsonObject, type NormalizedEvent } from "./event.js";

/** App API message `type`s that name a channel differently from the reporting webhooks. */
const CHANNEL_OF_TYPE: Record<string, string> = { twilio: "sms" };

/** Metrics whose App API name is the webhook's (opens and clicks are handled apart). */
const SAME_NAME = new Set<string>(STATUS_PRECEDENCE.filter((m) => m !== "opened" && m !== "clicked"));
const FAILURES = new Set(["attempted", "bounced", "dropped", "failed", "undeliverable"]);

/** The event one metric of a message stands for. */
export interface MessageMetric {
  /** The App API's name (`human_opened`, `sent`, ...), or `message` for the event that only creates the row. */
  appMetric: string;
  /** The webhook metric it maps to; null for the `message` event. */
  metric: string | null;
  /** An open that was a prefetch, or a click by a machine. */
  machine: boolean;
  /** Unix seconds, as the App API gives them (null: the message had no usable time at all). */
  at: number | null;
}

const seconds = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) && v > 0 ? v : undefined);

/** The channel of an App API message type (`twilio` is SMS). */
export const channelOfType = (type: unknown): string | null => (typeof type === "string" && type !== "" ? (CHANNEL_OF_TYPE[type] ?? type) : null);

/** The events a message stands for (see the top of this file), in a stable order. */
export function messageMetrics(message: JsonObject): MessageMetric[] {
  const metrics = isJsonObject(message["metrics"]) ? message["metrics"] : {};
  const t = (name: string) => seconds(metrics[name]);
  const out: MessageMetric[] = [];
  for (const name of Object.keys(metrics).sort()) {
    const at = t(name);
    if (at !== undefined && SAME_NAME.has(name)) out.push({ appMetric: name, metric: name, machine: false, at });
  }
  const [humanOpen, prefetch, open] = [t("human_opened"), t("prefetch_opened"), t("opened")];
  if (humanOpen !== undefined) out.push({ appMetric: "human_opened", metric: "opened", machine: false, at: humanOpen });
  if (open !== undefined && open !== humanOpen) {
    out.push({ appMetric: "opened", metric: "opened", machine: (humanOpen !== undefined && open < humanOpen) || open === prefetch, at: open });
  }
  const [humanClick, click] = [t("human_clicked"), t("clicked")];
  if (humanClick !== undefined) out.push({ appMetric: "human_clicked", metric: "clicked", machine: false, at: humanClick });
  if (click !== undefined && click !== humanClick) out.push({ appMetric: "clicked", metric: "clicked", machine: humanClick !== undefined && click < humanClick, at: click });
  if (out.length === 0) out.push({ appMetric: "message", metric: null, machine: false, at: seconds(message["created"]) ?? null });
  return out;
}

/** Our id for the event of one metric of a delivery (its id as the App API gives it): the same every time the message is read. */
export const backfillEventId = (deliveryId: string, appMetric: string) => boundedKey(`backfill:${deliveryId}:${appMetric}`);

/**
 * The stored payload of a backfilled event: `{app_metric, message}`. With `whole`, the message as the
 * App API gave it; otherwise only what this event is made of (its id, type, created time, metrics, and
 * a failure's message), since the attributes every event of a delivery would repeat (recipient, person,
 * origin) need to be in one of them only: the projection keeps them from whichever event has them.
 */
export function backfillPayload(message: JsonObject, appMetric: string, whole = true): JsonObject {
  if (whole) return { app_metric: appMetric, message };
  const metric = messageMetrics(message).find((m) => m.appMetric === appMetric)?.metric ?? null;
  const slim: JsonObject = { id: message["id"] ?? null, type: message["type"] ?? null, created: message["created"] ?? null, metrics: message["metrics"] ?? null };
  if (metric !== null && FAILURES.has(metric) && message["failure_message"] !== undefined) slim["failure_message"] = message["failure_message"];
  return { app_metric: appMetric, message: slim };
}

/** The delivery id of an App API message (its `id`), bounded as every delivery key is; null if it has none. */
export function messageDeliveryId(message: JsonObject): string | null {
  const id = message["id"];
  return typeof id === "string" && id !== "" ? boundedKey(id) : typeof id === "number" && Number.isFinite(id) ? String(id) : null;
}

/**
 * The event for a stored payload (`{app_metric, message}`). Replay calls this too: the event is a
 * function of the payload (and, for a message with no usable time, of when it was stored).
 */
export function normalizeBackfill(payload: JsonObject, receivedAt: number = Date.now()): NormalizedEvent {
  if (payload["erased"] === true && !isJsonObject(payload["message"])) {
    // Scrubbed by `npm run erase` afterwards: the skeleton keeps the metric, its time and the delivery.
    const raw = JSON.stringify(payload);
    const skeleton: JsonObject = { event_id: payload["event_id"] ?? null, object_type: payload["object_type"] ?? null, metric: payload["metric"] ?? null, timestamp: payload["timestamp"] ?? null, data: { delivery_id: payload["delivery_id"] ?? null } };
    return { ...normalizeEvent(skeleton, raw, "backfill", receivedAt), payload: jsonbSafe(raw, payload) };
  }
  const message = isJsonObject(payload["message"]) ? payload["message"] : {};
  const appMetric = typeof payload["app_metric"] === "string" ? payload["app_metric"] : "message";
  const found = messageMetrics(message).find((m) => m.appMetric === appMetric);
  const metric = found?.metric ?? null;
  const rawId = message["id"];
  const deliveryId = typeof rawId === "string" || typeof rawId === "number" ? String(rawId) : null;
  const origin = Object.fromEntries(
    ["campaign_id", "action_id", "parent_action_id", "broadcast_id", "newsletter_id", "content_id", "transactional_message_id", "trigger_id"].map((k) => [k, message[k] ?? null]),
  );
  const data: JsonObject = {
    delivery_id: deliveryId,
    customer_id: message["customer_id"] ?? null,
    identifiers: isJsonObject(message["customer_identifiers"]) ? message["customer_identifiers"] : null,
    recipient: message["recipient"] ?? null,
    subject: message["subject"] ?? null,
    ...origin,
    failure_message: metric !== null && FAILURES.has(metric) ? (message["failure_message"] ?? null) : null,
  };
  if (metric === "opened") data["prefetched"] = found?.machine ?? false;
  if (metric === "clicked") data["machine"] = found?.machine ?? false;
  const asEvent: JsonObject = {
    event_id: deliveryId === null ? null : backfillEventId(deliveryId, appMetric),
    object_type: channelOfType(message["type"]),
    metric,
    timestamp: found?.at ?? null,
    data,
  };
  const raw = JSON.stringify(payload);
  // A message without any usable time is dated by the day it was stored (deterministic on replay).
  return { ...normalizeEvent(asEvent, raw, "backfill", receivedAt), payload: jsonbSafe(raw, payload) };
}

/**
 * The event of a message about a person erased earlier: its metric, time and delivery only (counts do
 * not change), with a payload that still rebuilds it on replay: the message's id, type, created time and
 * metrics, and nothing about the person.
 */
export function erasedBackfill(message: JsonObject, appMetric: string, receivedAt: number = Date.now()): NormalizedEvent {
  const slim: JsonObject = { id: message["id"] ?? null, type: message["type"] ?? null, created: message["created"] ?? null, metrics: message["metrics"] ?? null };
  return normalizeBackfill({ app_metric: appMetric, erased: true, message: slim }, receivedAt);
}
