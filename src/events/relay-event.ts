// Owns how a relayed call (Customer.io's /api/v1/metrics or push-event body) becomes an event: the
// delivery_events row (source = relay) and its projection. Replay rebuilds the same event from the
// stored body, so this mapping lives in the event core, not in the relay.
import { createHash, randomUUID } from "node:crypto";
import { jsonbSafe, normalizeEvent, type JsonObject, type NormalizedEvent } from "./event.js";

export type RelayKind = "metric" | "push_event";

/**
 * The kind of a stored relay body. The route decides the kind of a new call; this is for replay, where
 * only the body is left. Bodies mixing both shapes are refused at the door, so this is unambiguous.
 */
export const relayKindOf = (payload: JsonObject): RelayKind => ("event" in payload && !("metric" in payload) ? "push_event" : "metric");

/**
 * The delivery_events row for an accepted body. With a timestamp, the id is derived from the content,
 * so a client retrying the same metric is stored (and sent) once; without one, every call is new.
 */
export function normalizeRelay(kind: RelayKind, body: JsonObject, receivedAt: number = Date.now()): NormalizedEvent {
  const raw = JSON.stringify(body);
  const eventId =
    body["timestamp"] !== undefined && body["timestamp"] !== null
      ? `relay:${createHash("sha256").update(`${kind}\n${raw}`).digest("hex")}`
      : `relay:${randomUUID()}`;
  const metric = kind === "push_event" ? body["event"] : body["metric"];
  // Reuse the webhook mapping for the common fields by presenting the body as an event.
  const asEvent: JsonObject = {
    event_id: eventId,
    object_type: kind === "push_event" ? "push" : null,
    metric: metric ?? null,
    timestamp: body["timestamp"] ?? null,
    data: {
      delivery_id: body["delivery_id"] ?? null,
      recipient: body["recipient"] ?? (kind === "push_event" ? (body["device_id"] ?? null) : null),
      failure_message: body["reason"] ?? null,
      href: body["href"] ?? null,
    },
  };
  return { ...normalizeEvent(asEvent, raw, "relay", receivedAt), payload: jsonbSafe(raw, body) };
}
