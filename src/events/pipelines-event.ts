// Owns how a relayed Data Pipelines "Report Delivery Event" track (the device-side metric of Customer.io's
// current mobile SDKs) becomes an event: the delivery_events row (source = relay) and its projection,
// like a metric relayed to /api/v1/metrics. The stored payload is the call itself (type, event,
// properties {deliveryId, metric, recipient?}, messageId, timestamp, ...); replay rebuilds the same event
// from it, and tells it from a Track API relay body by its `type` and `event` (isPipelinesDelivery).
import { createHash } from "node:crypto";
import { jsonbSafe, normalizeEvent, type JsonObject, type NormalizedEvent } from "./event.js";

/** The event name the SDKs give their delivery metrics. */
export const REPORT_DELIVERY_EVENT = "Report Delivery Event";

const isObject = (v: unknown): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Whether a stored relay payload is a Data Pipelines call rather than a Track API body. Unambiguous:
 * the Track relay refuses a body with `event` other than opened/converted/delivered (push events) or
 * with `event` at all (/api/v1/metrics).
 */
export const isPipelinesDelivery = (payload: JsonObject): boolean => payload["type"] === "track" && payload["event"] === REPORT_DELIVERY_EVENT;

/**
 * The event id of a Data Pipelines call: its messageId, which identifies the event for Customer.io, in
 * the namespace of the write key it came with (`source` is the key's reference, never the key). A resend
 * with the same messageId is the same event: stored once, queued once.
 */
export function pipelinesEventId(source: string, messageId: string): string {
  return `cdp:${createHash("sha256").update(`${source}\n${messageId}`).digest("hex")}`;
}

/** The delivery_events row of a "Report Delivery Event" call (already validated by the relay). */
export function normalizePipelinesDelivery(call: JsonObject, eventId: string, receivedAt: number = Date.now()): NormalizedEvent {
  const raw = JSON.stringify(call);
  const properties = isObject(call["properties"]) ? call["properties"] : {};
  const at = typeof call["timestamp"] === "string" ? Date.parse(call["timestamp"]) : NaN;
  // Reuse the webhook mapping for the common fields by presenting the call as an event.
  const asEvent: JsonObject = {
    event_id: eventId,
    object_type: null,
    metric: properties["metric"] ?? null,
    timestamp: null,
    data: { delivery_id: properties["deliveryId"] ?? null, recipient: properties["recipient"] ?? null },
  };
  const event = normalizeEvent(asEvent, raw, "relay", receivedAt, Number.isFinite(at) && at > 0 ? at : receivedAt);
  return { ...event, payload: jsonbSafe(raw, call) };
}
