// Customer.io-shaped reporting events for send-sample, tests and benchmarks: the three official
// examples, and builders for every object type and metric in the documented tables.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { PROJECT_ROOT } from "../../src/core/paths.js";
import { sign } from "../../src/webhooks/signature.js";

export type Json = Record<string, unknown>;

export const OFFICIAL_SAMPLES_DIR = path.join(PROJECT_ROOT, "test", "fixtures", "customerio");

/** The official examples, byte for byte as published. */
export function officialSamples(): Array<{ name: string; raw: string }> {
  return fs
    .readdirSync(OFFICIAL_SAMPLES_DIR)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((name) => ({ name, raw: fs.readFileSync(path.join(OFFICIAL_SAMPLES_DIR, name), "utf8") }));
}

/** Documented metrics per object type (shared README, section 1). */
export const METRICS_BY_OBJECT_TYPE: Record<string, string[]> = {
  customer: ["subscribed", "unsubscribed", "cio_subscription_preferences_changed"],
  email: ["drafted", "attempted", "sent", "delivered", "opened", "clicked", "converted", "bounced", "spammed", "dropped", "failed", "undeliverable", "unsubscribed"],
  push: ["drafted", "attempted", "sent", "delivered", "opened", "clicked", "converted", "bounced", "dropped", "failed", "undeliverable"],
  sms: ["drafted", "attempted", "sent", "delivered", "clicked", "converted", "bounced", "failed", "undeliverable", "replied"],
  in_app: ["drafted", "attempted", "sent", "opened", "clicked", "converted", "failed", "undeliverable"],
  slack: ["drafted", "attempted", "sent", "clicked", "failed", "undeliverable"],
  webhook: ["drafted", "attempted", "sent", "clicked", "failed", "undeliverable"],
  whatsapp: ["drafted", "attempted", "sent", "delivered", "opened", "clicked", "converted", "bounced", "dropped", "failed", "undeliverable", "replied"],
};

const FAILURES = new Set(["attempted", "bounced", "dropped", "failed", "undeliverable"]);

let counter = 0;
/** A ULID-like, unique, sortable-enough event id. */
export function eventId(): string {
  counter = (counter + 1) % 1_000_000;
  return `01${Date.now().toString(36).toUpperCase()}${counter.toString(36).toUpperCase().padStart(4, "0")}${randomBytes(5).toString("hex").toUpperCase()}`;
}

export function deliveryId(): string {
  return randomBytes(18).toString("base64").replaceAll("+", "-").replaceAll("/", "_");
}

export interface MessageEventOptions {
  objectType: string;
  metric: string;
  deliveryId: string;
  timestamp?: number;
  eventId?: string;
  origin?: Json;
  person?: { id: string; email: string; cioId: string };
  extra?: Json;
}

/** A message event with the fields Customer.io documents for that object type and metric. */
export function messageEvent(o: MessageEventOptions): Json {
  const person = o.person ?? { id: "42", email: "test@example.com", cioId: "d9c106000001" };
  const data: Json = {
    action_id: 42,
    customer_id: person.id,
    delivery_id: o.deliveryId,
    identifiers: { id: person.id, email: person.email, cio_id: person.cioId },
    ...(o.origin ?? { campaign_id: 12, journey_id: "01J000000000000000000JRNY" }),
  };
  if (o.objectType === "push") data["recipients"] = [{ device_id: "device-token-1", device_platform: "ios" }];
  else data["recipient"] = recipientFor(o.objectType, person.email);
  if (o.objectType === "email" && o.metric === "sent") data["subject"] = "Welcome aboard";
  if (FAILURES.has(o.metric)) data["failure_message"] = o.metric === "bounced" ? "550 5.1.1 The email account does not exist" : `${o.metric}: delivery problem`;
  if (o.metric === "clicked") {
    data["href"] = "https://example.com/pricing?utm_source=cio";
    data["link_id"] = 7;
    if (o.objectType === "email") data["machine"] = false;
  }
  if (o.metric === "opened" && o.objectType === "email") Object.assign(data, { proxied: false, prefetched: false, synthetic: false });
  if (o.metric === "replied") Object.assign(data, { to: recipientFor(o.objectType, person.email), inbound_event_id: eventId() });
  return {
    event_id: o.eventId ?? eventId(),
    object_type: o.objectType,
    metric: o.metric,
    timestamp: o.timestamp ?? Math.floor(Date.now() / 1000),
    data: { ...data, ...o.extra },
  };
}

function recipientFor(objectType: string, email: string): string {
  switch (objectType) {
    case "sms":
    case "whatsapp":
      return "+15551234567";
    case "slack":
      return "#general";
    case "webhook":
      return "https://hooks.example.com/endpoint";
    default:
      return email;
  }
}

/** A person-level subscription event. */
export function customerEvent(metric: string, o: { timestamp?: number; eventId?: string; cioId?: string; content?: string; person?: { id: string; email: string; cioId: string } } = {}): Json {
  const person = o.person ?? { id: "42", email: "test@example.com", cioId: o.cioId ?? "d9c106000001" };
  const data: Json = {
    customer_id: person.id,
    email_address: person.email,
    identifiers: { id: person.id, email: person.email, cio_id: person.cioId },
  };
  if (metric === "cio_subscription_preferences_changed") data["content"] = o.content ?? JSON.stringify({ topic_1: true, topic_2: false });
  return { event_id: o.eventId ?? eventId(), object_type: "customer", metric, timestamp: o.timestamp ?? Math.floor(Date.now() / 1000), data };
}

/** Headers Customer.io would send with this body. */
export function signedHeaders(key: string, body: string, timestamp = Math.floor(Date.now() / 1000)): Record<string, string> {
  const ts = String(timestamp);
  return { "content-type": "application/json", "x-cio-timestamp": ts, "x-cio-signature": sign(key, ts, body) };
}
