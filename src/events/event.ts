// Owns the mapping from one Customer.io reporting event (parsed JSON) to the values we store: the
// delivery_events row and the fields the deliveries / person_subscriptions projection needs.
// Every function here is total: a correctly signed event is never rejected for its content, so odd
// shapes become nulls (the raw payload is always kept) instead of errors.
import { createHash } from "node:crypto";

export type EventSource = "webhook" | "relay" | "unsubscribe_page" | "backfill";

/** One event, ready for the batch statement in event-store.ts. */
export interface NormalizedEvent {
  eventId: string;
  deliveryId: string | null;
  objectType: string | null;
  metric: string | null;
  /** Milliseconds since the epoch; the receive time when the event has no usable timestamp. */
  occurredAt: number;
  receivedAt: number;
  customerId: string | null;
  identifiers: string | null; // JSON text
  href: string | null;
  linkId: string | null;
  failureMessage: string | null;
  source: EventSource;
  payload: string; // JSON text, safe for jsonb
  // Projection-only fields (not columns of delivery_events; recomputed from payload on replay).
  channel: string | null;
  recipient: string | null;
  subject: string | null;
  origin: OriginIds;
  /** Opened with prefetched=true, or clicked with machine=true. */
  machine: boolean;
  personKey: string | null;
  email: string | null;
  /** Topic -> bool map of a cio_subscription_preferences_changed event, as JSON text. */
  preferences: string | null;
  /** Set when PostgreSQL refused the payload and it is stored as text instead (see event-store.ts). */
  quarantined?: boolean;
}

export interface OriginIds {
  campaignId: string | null;
  broadcastId: string | null;
  newsletterId: string | null;
  transactionalMessageId: string | null;
  actionId: string | null;
  parentActionId: string | null;
  triggerId: string | null;
  contentId: string | null;
  journeyId: string | null;
  triggerEventId: string | null;
}

/** The message channels Customer.io reports on; `customer` is the person-level object type. */
export const MESSAGE_OBJECT_TYPES = ["email", "push", "in_app", "sms", "slack", "webhook", "whatsapp"] as const;
export const SUBSCRIPTION_METRICS = ["subscribed", "unsubscribed", "cio_subscription_preferences_changed"] as const;

/**
 * Longest key we keep as it is, in UTF-8 bytes. A btree entry must stay under ~2.7 KB, so a longer id
 * (event, delivery, person) is kept as `sha256:<hex>` of it: still one key per value, so its events
 * still meet on one row, while the full value stays in the payload.
 */
export const MAX_KEY_BYTES = 256;
/** Longest link kept as it is in delivery_events.href (indexed for the links report). */
export const MAX_HREF_BYTES = 1500;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const isObject = (v: unknown): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);

/** PostgreSQL text cannot hold NUL; everything else is kept. */
function text(v: unknown): string | null {
  if (typeof v === "string") return v.length === 0 ? null : v.includes("\u0000") ? v.replaceAll("\u0000", "\uFFFD") : v;
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  if (typeof v === "bigint") return String(v);
  return null;
}

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

/** A value for a btree key: as it is when short, else `sha256:<hex>` of it. */
export function boundedKey(s: string): string {
  return Buffer.byteLength(s) <= MAX_KEY_BYTES ? s : `sha256:${sha256(s)}`;
}

/**
 * Text for an indexed column: as it is up to `maxBytes`, else its first characters (half the budget),
 * "…" and the sha256 of the whole, so two long values never share a key and a reader sees what it was.
 */
export function boundedText(s: string, maxBytes: number): string {
  if (Buffer.byteLength(s) <= maxBytes) return s;
  let prefix = "";
  let bytes = 0;
  for (const ch of s) {
    bytes += Buffer.byteLength(ch);
    if (bytes > maxBytes / 2) break;
    prefix += ch;
  }
  return `${prefix}…[sha256:${sha256(s)}]`;
}

function id(v: unknown): string | null {
  const s = text(v);
  return s === null ? null : boundedKey(s);
}

/** Origin and action ids are integers in Customer.io; anything else stays in the payload only. */
function intId(v: unknown): string | null {
  if (typeof v === "number" && Number.isSafeInteger(v)) return String(v);
  if (typeof v === "string" && /^-?\d{1,18}$/.test(v)) return String(BigInt(v));
  return null;
}

function boundedHref(v: unknown): string | null {
  const s = text(v);
  return s === null ? null : boundedText(s, MAX_HREF_BYTES);
}

const truthy = (v: unknown) => v === true || v === "true" || v === 1;

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** The time a ULID carries in its first 10 characters (Customer.io's event ids are ULIDs), or null. */
export function ulidTime(id: string): number | null {
  if (!/^[0-9A-HJKMNP-TV-Z]{26}$/i.test(id)) return null;
  let ms = 0;
  for (const ch of id.slice(0, 10).toUpperCase()) ms = ms * 32 + CROCKFORD.indexOf(ch);
  return ms >= Date.UTC(2000, 0, 1) && ms < Date.UTC(2100, 0, 1) ? ms : null;
}

const startOfUtcDay = (ms: number) => Math.floor(ms / 86400_000) * 86400_000;

/**
 * When an event happened. Its `timestamp`; for a webhook without a usable one, the time in its ULID
 * event_id, else the start of the UTC day it arrived. The time is part of the event's key (the table
 * is partitioned by it), so it must be the same for a retry of the event: the arrival time would not be.
 */
function occurredMs(event: JsonObject, eventId: string, receivedAt: number, undatedAt: number | undefined): number {
  return timestampMs(event["timestamp"], NaN) || (undatedAt ?? ulidTime(eventId) ?? startOfUtcDay(receivedAt));
}

function timestampMs(v: unknown, fallback: number): number {
  const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : NaN;
  if (!Number.isFinite(n) || n <= 0) return fallback;
  // Customer.io sends unix seconds; a value this large can only be milliseconds.
  const ms = n > 1e11 ? n : n * 1000;
  return ms < 8.64e15 ? Math.floor(ms) : fallback;
}

/**
 * JSON text that PostgreSQL's jsonb accepts. JSON.parse allows "\u0000" and lone surrogates;
 * jsonb rejects both, so only then do we re-serialise with U+FFFD in their place.
 */
export function jsonbSafe(raw: string, parsed: unknown): string {
  if (!/\\u(0000|[dD][89a-fA-F])/.test(raw)) return raw;
  return jsonText(parsed);
}

/** JSON text of a value that jsonb accepts: NUL characters and lone surrogates become U+FFFD. */
export function jsonText(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    typeof v === "string" ? v.replaceAll("\u0000", "\uFFFD").replace(/\p{Cs}/gu, "\uFFFD") : v,
  );
}

function personKey(identifiers: JsonObject | null, customerId: string | null, email: string | null): string | null {
  const cioId = identifiers ? id(identifiers["cio_id"]) : null;
  if (cioId) return `cio_id:${cioId}`;
  const personId = identifiers ? id(identifiers["id"]) : null;
  if (personId) return `id:${personId}`;
  if (customerId) return `id:${boundedKey(customerId)}`;
  if (email) return `email:${boundedKey(email)}`;
  return null;
}

function pushRecipients(v: unknown): string | null {
  if (!Array.isArray(v)) return null;
  const devices = v.map((r) => (isObject(r) ? text(r["device_id"]) : null)).filter((d): d is string => d !== null);
  return devices.length > 0 ? devices.join(",") : null;
}

function preferencesOf(content: unknown): string | null {
  if (isObject(content)) return JSON.stringify(content);
  if (typeof content !== "string") return null;
  try {
    const parsed: unknown = JSON.parse(content);
    return isObject(parsed) ? jsonbSafe(content, parsed) : null;
  } catch {
    return null;
  }
}

/** A stable id for an event that has none: the same bytes always give the same id. */
export function derivedEventId(raw: string | Buffer): string {
  return `sha256:${createHash("sha256").update(raw).digest("hex")}`;
}

/**
 * Normalizes one parsed event. `raw` is the exact JSON text (used for the payload column and for a
 * derived event id). Never throws for any JSON object.
 */
export function normalizeEvent(
  event: JsonObject,
  raw: string,
  source: EventSource,
  receivedAt: number = Date.now(),
  /** The time of an event without a timestamp, when its caller knows better (a relayed call: its arrival). */
  undatedAt?: number,
): NormalizedEvent {
  const data = isObject(event["data"]) ? event["data"] : {};
  const eventId = id(event["event_id"]) ?? derivedEventId(raw);
  const objectType = text(event["object_type"]);
  const metric = text(event["metric"]);
  const identifiersObj = isObject(data["identifiers"]) ? data["identifiers"] : null;
  const customerId = text(data["customer_id"]);
  const email = text(data["email_address"]) ?? (identifiersObj ? text(identifiersObj["email"]) : null);
  const isSubscription = metric !== null && (SUBSCRIPTION_METRICS as readonly string[]).includes(metric);

  return {
    eventId,
    deliveryId: id(data["delivery_id"]),
    objectType,
    metric,
    occurredAt: occurredMs(event, eventId, receivedAt, undatedAt),
    receivedAt,
    customerId,
    identifiers: identifiersObj ? jsonbSafe(JSON.stringify(identifiersObj), identifiersObj) : null,
    href: boundedHref(data["href"]),
    linkId: text(data["link_id"]),
    failureMessage: text(data["failure_message"]),
    source,
    payload: jsonbSafe(raw, event),
    channel: objectType !== null && (MESSAGE_OBJECT_TYPES as readonly string[]).includes(objectType) ? objectType : null,
    recipient: text(data["recipient"]) ?? pushRecipients(data["recipients"]),
    subject: text(data["subject"]),
    origin: {
      campaignId: intId(data["campaign_id"]),
      broadcastId: intId(data["broadcast_id"]),
      newsletterId: intId(data["newsletter_id"]),
      transactionalMessageId: intId(data["transactional_message_id"]),
      actionId: intId(data["action_id"]),
      parentActionId: intId(data["parent_action_id"]),
      triggerId: intId(data["trigger_id"]),
      contentId: intId(data["content_id"]),
      journeyId: text(data["journey_id"]),
      triggerEventId: text(data["trigger_event_id"]),
    },
    machine: (metric === "opened" && truthy(data["prefetched"])) || (metric === "clicked" && truthy(data["machine"])),
    personKey: isSubscription ? personKey(identifiersObj, customerId, email) : null,
    email,
    preferences: metric === "cio_subscription_preferences_changed" ? preferencesOf(data["content"]) : null,
  };
}

/**
 * The fields of a NormalizedEvent that may hold data about a person (or outside text that could break
 * an index), cleared: spread over an event to keep only its keys, metric and times.
 */
export const CLEARED_FIELDS = {
  customerId: null,
  identifiers: null,
  failureMessage: null,
  recipient: null,
  subject: null,
  personKey: null,
  email: null,
  preferences: null,
} satisfies Partial<NormalizedEvent>;

export function isJsonObject(v: unknown): v is JsonObject {
  return isObject(v);
}
export type { JsonObject };
