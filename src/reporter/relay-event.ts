// Owns the relay's request bodies: validating them as Customer.io would, turning an accepted one into
// a delivery_events row (source = relay), and the body we later send to Customer.io for it.
import { createHash, randomUUID } from "node:crypto";
import type { JsonObject, NormalizedEvent } from "../webhooks/event.js";
import { normalizeEvent } from "../webhooks/event.js";

export type RelayKind = "metric" | "push_event";

/** Metrics /api/v1/metrics accepts, by the delivery's channel (Customer.io derives the channel itself). */
export const RELAY_METRICS_BY_CHANNEL: Record<string, readonly string[]> = {
  email: ["bounced", "clicked", "converted", "deferred", "delivered", "dropped", "opened", "spammed"],
  webhook: ["bounced", "clicked", "converted", "deferred", "delivered", "dropped", "opened", "spammed"],
  push: ["converted", "delivered", "opened"],
  in_app: ["clicked", "converted", "opened"],
  slack: ["clicked", "converted", "delivered", "opened"],
  sms: ["bounced", "clicked", "delivered", "opened"],
};
export const RELAY_METRICS = [...new Set(Object.values(RELAY_METRICS_BY_CHANNEL).flat())].sort();
export const PUSH_EVENTS = ["opened", "converted", "delivered"] as const;

const MAX_ID = 256;
const isString = (v: unknown): v is string => typeof v === "string" && v.length > 0;
const optionalString = (body: JsonObject, field: string, errors: string[]) => {
  if (body[field] !== undefined && body[field] !== null && typeof body[field] !== "string") errors.push(`${field} must be a string`);
};
const timestampErrors = (body: JsonObject, errors: string[]) => {
  const t = body["timestamp"];
  if (t !== undefined && t !== null && !(Number.isInteger(t) && (t as number) > 0)) errors.push("timestamp must be a positive integer (unix seconds)");
};

/** Depth of nested arrays/objects; Customer.io's relay bodies are flat. */
function depth(v: unknown, limit: number): number {
  if (typeof v !== "object" || v === null) return 0;
  if (limit <= 0) return 1;
  let max = 0;
  for (const child of Object.values(v)) max = Math.max(max, depth(child, limit - 1));
  return max + 1;
}
const MAX_DEPTH = 32;

/** Problems with a body, worded for the caller; empty when it is acceptable. */
export function validateRelayBody(kind: RelayKind, body: JsonObject, knownChannel: string | null): string[] {
  const errors: string[] = [];
  if (depth(body, MAX_DEPTH) > MAX_DEPTH) return [`body is nested deeper than ${MAX_DEPTH} levels`];
  const deliveryId = body["delivery_id"];
  if (!isString(deliveryId)) errors.push("delivery_id is required (a string)");
  else if (deliveryId.length > MAX_ID) errors.push(`delivery_id is longer than ${MAX_ID} characters`);
  timestampErrors(body, errors);
  if (kind === "metric") {
    const metric = body["metric"];
    if (!isString(metric) || !RELAY_METRICS.includes(metric)) errors.push(`metric must be one of ${RELAY_METRICS.join(", ")}`);
    else if (knownChannel && RELAY_METRICS_BY_CHANNEL[knownChannel] && !RELAY_METRICS_BY_CHANNEL[knownChannel].includes(metric)) {
      errors.push(`metric ${metric} is not reported for ${knownChannel} deliveries (allowed: ${RELAY_METRICS_BY_CHANNEL[knownChannel].join(", ")})`);
    }
    for (const f of ["recipient", "reason", "href"]) optionalString(body, f, errors);
  } else {
    const event = body["event"];
    if (!isString(event) || !(PUSH_EVENTS as readonly string[]).includes(event)) errors.push(`event must be one of ${PUSH_EVENTS.join(", ")}`);
    if (!isString(body["device_id"])) errors.push("device_id is required (a string)");
  }
  return errors;
}

export const relayKindOf = (payload: JsonObject): RelayKind => ("event" in payload && !("metric" in payload) ? "push_event" : "metric");

/**
 * The delivery_events row for an accepted body. With a timestamp, the id is derived from the content,
 * so a client retrying the same metric is stored (and sent) once; without one, every call is new.
 */
export function normalizeRelay(body: JsonObject, receivedAt: number = Date.now()): NormalizedEvent {
  const kind = relayKindOf(body);
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
  return { ...normalizeEvent(asEvent, raw, "relay", receivedAt), payload: raw };
}

/** The body we send to Customer.io: always with the original time, however late the send. */
export function outboundBody(body: JsonObject, event: NormalizedEvent): JsonObject {
  const timestamp = Math.floor(event.occurredAt / 1000);
  if (relayKindOf(body) === "push_event") {
    return { delivery_id: body["delivery_id"]!, event: body["event"]!, device_id: body["device_id"]!, timestamp };
  }
  const out: JsonObject = { delivery_id: body["delivery_id"]!, metric: body["metric"]!, timestamp };
  for (const f of ["recipient", "reason", "href"]) if (typeof body[f] === "string") out[f] = body[f];
  return out;
}
