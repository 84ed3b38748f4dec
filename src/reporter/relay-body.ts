// Owns the relay's request bodies: validating them as Customer.io would, and the body we later send to
// Customer.io for an accepted one. (How a body becomes an event is the event core's: events/relay-event.ts.)
import type { JsonObject, NormalizedEvent } from "../events/event.js";
import type { RelayKind } from "../events/relay-event.js";

export type { RelayKind };

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

const PUSH_ONLY = ["event", "device_id"];
const METRIC_ONLY = ["metric", "recipient", "reason", "href"];

/**
 * Problems with a body, worded for the caller; empty when it is acceptable. The route decides the kind
 * of call; a body carrying the other kind's fields is refused rather than guessed at. Whether the
 * metric suits the delivery's channel is checked by the store, in the same statement (channelsRefusing).
 */
export function validateRelayBody(kind: RelayKind, body: JsonObject): string[] {
  const errors: string[] = [];
  if (depth(body, MAX_DEPTH) > MAX_DEPTH) return [`body is nested deeper than ${MAX_DEPTH} levels`];
  const foreign = (kind === "metric" ? PUSH_ONLY : METRIC_ONLY).filter((f) => f in body);
  if (foreign.length > 0) {
    const route = kind === "metric" ? "/api/v1/metrics" : "a push-event endpoint";
    errors.push(`${foreign.join(", ")} ${foreign.length > 1 ? "are" : "is"} not a field of ${route}: a body mixes a metric and a push event; send each to its own endpoint`);
    return errors;
  }
  const deliveryId = body["delivery_id"];
  if (!isString(deliveryId)) errors.push("delivery_id is required (a string)");
  else if (deliveryId.length > MAX_ID) errors.push(`delivery_id is longer than ${MAX_ID} characters`);
  timestampErrors(body, errors);
  if (kind === "metric") {
    const metric = body["metric"];
    if (!isString(metric) || !RELAY_METRICS.includes(metric)) errors.push(`metric must be one of ${RELAY_METRICS.join(", ")}`);
    for (const f of ["recipient", "reason", "href"]) optionalString(body, f, errors);
  } else {
    const event = body["event"];
    if (!isString(event) || !(PUSH_EVENTS as readonly string[]).includes(event)) errors.push(`event must be one of ${PUSH_EVENTS.join(", ")}`);
    if (!isString(body["device_id"])) errors.push("device_id is required (a string)");
  }
  return errors;
}

/** The known channels that do not take this call's metric: the store refuses it for their deliveries. */
export function channelsRefusing(kind: RelayKind, body: JsonObject): string[] {
  const metric = String(kind === "push_event" ? body["event"] : body["metric"]);
  return Object.entries(RELAY_METRICS_BY_CHANNEL).filter(([, metrics]) => !metrics.includes(metric)).map(([channel]) => channel);
}

/** Why a call was refused for its delivery's channel, worded like the other validation errors. */
export const channelError = (kind: RelayKind, body: JsonObject, channel: string) =>
  `metric ${String(kind === "push_event" ? body["event"] : body["metric"])} is not reported for ${channel} deliveries (allowed: ${RELAY_METRICS_BY_CHANNEL[channel]?.join(", ") ?? "none"})`;

/** The body we send to Customer.io: always with the original time, however late the send. */
export function outboundBody(kind: RelayKind, body: JsonObject, event: NormalizedEvent): JsonObject {
  const timestamp = Math.floor(event.occurredAt / 1000);
  if (kind === "push_event") {
    return { delivery_id: body["delivery_id"]!, event: body["event"]!, device_id: body["device_id"]!, timestamp };
  }
  const out: JsonObject = { delivery_id: body["delivery_id"]!, metric: body["metric"]!, timestamp };
  for (const f of ["recipient", "reason", "href"]) if (typeof body[f] === "string") out[f] = body[f];
  return out;
}
