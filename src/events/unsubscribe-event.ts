// Owns how an unsubscribe or resubscribe recorded by our page becomes an event: the delivery_events row
// (source = unsubscribe_page, metric unsubscribed or resubscribed) and its projection. Replay rebuilds
// it from the stored payload.
import { jsonbSafe, normalizeEvent, type JsonObject, type NormalizedEvent } from "./event.js";

export function normalizeUnsubscribe(payload: JsonObject, receivedAt: number): NormalizedEvent {
  const value = payload["unsubscribe"] !== false;
  const raw = JSON.stringify(payload);
  const asEvent: JsonObject = {
    event_id: payload["event_id"] ?? null,
    object_type: null,
    metric: value ? "unsubscribed" : "resubscribed",
    timestamp: payload["timestamp"] ?? null,
    data: { delivery_id: payload["delivery_id"] ?? null },
  };
  return { ...normalizeEvent(asEvent, raw, "unsubscribe_page", receivedAt), payload: jsonbSafe(raw, payload) };
}
