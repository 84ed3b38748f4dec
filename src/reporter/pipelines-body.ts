// Owns the Data Pipelines relay's request bodies: validating them as Customer.io's strict mode would
// (each problem named, with its place in a batch), and the calls we store and later forward for an
// accepted one. We add only what a call lacks and forwarding needs: `type` (from the endpoint),
// `messageId` (a stable one), `timestamp` (when we received it, so a late forward keeps the true time),
// and a batch's shared `context` / `integrations` folded into each call (a forwarded batch mixes calls
// of several requests). A field the caller set is never changed; `writeKey` in a body is dropped (it is
// a credential: the key travels as Basic auth only).
import { createHash, randomUUID } from "node:crypto";
import type { JsonObject } from "../events/event.js";
import { REPORT_DELIVERY_EVENT } from "../events/pipelines-event.js";

export const PIPELINES_CALLS = ["identify", "track", "page", "screen", "group", "alias"] as const;
export type PipelinesCallType = (typeof PIPELINES_CALLS)[number];
export type PipelinesEndpoint = PipelinesCallType | "batch";

/**
 * Customer.io's limits: 32 KB a call, 500 KB a batch request (its Pipelines API documentation; the
 * official client, @customerio/cdp-analytics-node, enforces 32 KiB a call and fills batches to 480 KiB).
 */
export const MAX_CALL_BYTES = 32 * 1024;
export const MAX_BATCH_REQUEST_BYTES = 500 * 1024;
/** What we put in one forwarded batch, with the client's own padding under the 500 KB limit. */
export const MAX_FORWARD_BATCH_BYTES = 480 * 1024;

const MAX_ID = 256;
const MAX_DEPTH = 32;

const isObject = (v: unknown): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);
const isId = (v: unknown) => (typeof v === "string" && v.length > 0) || (typeof v === "number" && Number.isFinite(v));
const isIsoTime = (v: unknown) => typeof v === "string" && /^\d{4}-\d{2}-\d{2}/.test(v) && Number.isFinite(Date.parse(v));

function depth(v: unknown, limit: number): number {
  if (typeof v !== "object" || v === null) return 0;
  if (limit <= 0) return 1;
  let max = 0;
  for (const child of Object.values(v)) max = Math.max(max, depth(child, limit - 1));
  return max + 1;
}

const storable = (t: string) => t.replaceAll("\u0000", "\uFFFD").replace(/\p{Cs}/gu, "\uFFFD");

/**
 * The value with NUL characters and lone surrogates (which PostgreSQL's jsonb cannot hold) replaced by
 * U+FFFD, in keys as in strings: the one change we make to what a caller sent.
 */
function clean(v: unknown): unknown {
  if (typeof v === "string") return storable(v);
  if (Array.isArray(v)) return v.map(clean);
  if (typeof v === "object" && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [storable(k), clean(x)]));
  return v;
}

/** A call ready to store: the body we forward, its messageId, and whether it is a delivery metric. */
export interface PreparedCall {
  call: JsonObject;
  messageId: string;
  /** A "Report Delivery Event" track: also recorded as a delivery event. */
  delivery: boolean;
}

export type Prepared = { ok: true; calls: PreparedCall[] } | { ok: false; status: 400; errors: string[] };

/** Problems with one call, each prefixed with where it is (`batch[2].event ...`). */
function callErrors(call: JsonObject, at: string): string[] {
  const errors: string[] = [];
  const field = (name: string) => `${at}${name}`;
  const type = call["type"];
  if (typeof type !== "string" || !(PIPELINES_CALLS as readonly string[]).includes(type)) {
    errors.push(`${field("type")} must be one of ${PIPELINES_CALLS.join(", ")}`);
    return errors;
  }
  for (const id of ["userId", "anonymousId", "previousId", "groupId"]) {
    const v = call[id];
    if (v !== undefined && v !== null && !isId(v)) errors.push(`${field(id)} must be a non-empty string`);
    else if (typeof v === "string" && v.length > MAX_ID) errors.push(`${field(id)} is longer than ${MAX_ID} characters`);
  }
  if (type === "alias") {
    if (!isId(call["userId"])) errors.push(`${field("userId")} is required for alias`);
    if (!isId(call["previousId"])) errors.push(`${field("previousId")} is required for alias`);
  } else if (!isId(call["userId"]) && !isId(call["anonymousId"])) {
    errors.push(`${at || ""}userId or anonymousId is required`);
  }
  if (type === "track" && (typeof call["event"] !== "string" || call["event"] === "")) errors.push(`${field("event")} is required for track (a string)`);
  if (type === "group" && !isId(call["groupId"])) errors.push(`${field("groupId")} is required for group`);
  if ((type === "page" || type === "screen") && call["name"] !== undefined && call["name"] !== null && typeof call["name"] !== "string") errors.push(`${field("name")} must be a string`);
  for (const obj of ["properties", "traits", "context", "integrations"]) {
    if (call[obj] !== undefined && call[obj] !== null && !isObject(call[obj])) errors.push(`${field(obj)} must be an object`);
  }
  const messageId = call["messageId"];
  if (messageId !== undefined && messageId !== null) {
    if (typeof messageId !== "string" || messageId === "") errors.push(`${field("messageId")} must be a non-empty string`);
    else if (messageId.length > MAX_ID) errors.push(`${field("messageId")} is longer than ${MAX_ID} characters`);
  }
  for (const t of ["timestamp", "sentAt", "originalTimestamp"]) {
    if (call[t] !== undefined && call[t] !== null && !isIsoTime(call[t])) errors.push(`${field(t)} must be an ISO 8601 date-time string`);
  }
  if (type === "track" && call["event"] === REPORT_DELIVERY_EVENT) {
    const p = call["properties"];
    const where = field("properties");
    if (!isObject(p)) errors.push(`${where} is required for a ${REPORT_DELIVERY_EVENT} (deliveryId, metric)`);
    else {
      if (typeof p["deliveryId"] !== "string" || p["deliveryId"] === "") errors.push(`${where}.deliveryId is required for a ${REPORT_DELIVERY_EVENT} (a string)`);
      else if (p["deliveryId"].length > MAX_ID) errors.push(`${where}.deliveryId is longer than ${MAX_ID} characters`);
      if (typeof p["metric"] !== "string" || p["metric"] === "") errors.push(`${where}.metric is required for a ${REPORT_DELIVERY_EVENT} (a string such as delivered, opened, clicked)`);
      if (p["recipient"] !== undefined && p["recipient"] !== null && typeof p["recipient"] !== "string") errors.push(`${where}.recipient must be a string (the device token)`);
    }
  }
  return errors;
}

/**
 * The messageId of a call that has none: derived from its content and write key when it carries its own
 * time (a client retrying the same call gets the same id, so it is stored and forwarded once), else new.
 */
function messageIdFor(call: JsonObject, source: string): string {
  if (call["timestamp"] === undefined || call["timestamp"] === null) return `cio-companion-${randomUUID()}`;
  return `cio-companion-${createHash("sha256").update(`${source}\n${JSON.stringify(call)}`).digest("hex").slice(0, 32)}`;
}

/**
 * Validates a request for `endpoint` and returns its calls, ready to store, or every problem. All or
 * nothing: one invalid call refuses the whole request (as Customer.io's strict mode does), and a
 * refused request stores nothing.
 */
export function prepareCalls(endpoint: PipelinesEndpoint, given: unknown, source: string, receivedAt: number = Date.now()): Prepared {
  const fail = (errors: string[]): Prepared => ({ ok: false, status: 400, errors });
  if (!isObject(given)) return fail(["body must be a JSON object"]);
  if (depth(given, MAX_DEPTH + 2) > MAX_DEPTH + 2) return fail([`body is nested deeper than ${MAX_DEPTH} levels`]);
  const body = clean(given) as JsonObject;
  let raw: Array<{ call: unknown; at: string }>;
  let shared: JsonObject = {};
  if (endpoint === "batch") {
    const batch = body["batch"];
    if (!Array.isArray(batch) || batch.length === 0) return fail(["batch is required: a non-empty array of calls"]);
    raw = batch.map((call, i) => ({ call, at: `batch[${i}].` }));
    for (const k of ["context", "integrations"]) {
      const v = body[k];
      if (v === undefined || v === null) continue;
      if (!isObject(v)) return fail([`${k} must be an object`]);
      shared[k] = v;
    }
    const sentAt = body["sentAt"];
    if (typeof sentAt === "string" && isIsoTime(sentAt)) shared["sentAt"] = sentAt;
  } else {
    raw = [{ call: body, at: "" }];
    shared = {};
  }
  const errors: string[] = [];
  const calls: PreparedCall[] = [];
  for (const { call, at } of raw) {
    if (!isObject(call)) {
      errors.push(`${at.slice(0, -1)} must be an object`);
      continue;
    }
    const { writeKey: _secret, ...c } = call;
    if (endpoint !== "batch") {
      if (c["type"] === undefined || c["type"] === null) c["type"] = endpoint;
      else if (c["type"] !== endpoint) {
        errors.push(`type is "${String(c["type"])}" but this is /v1/${endpoint}: send it to /v1/${String(c["type"])} or /v1/batch`);
        continue;
      }
    }
    // The batch's shared context and integrations, under the call's own (the call's keys win).
    for (const k of ["context", "integrations"] as const) {
      const mine = c[k];
      if (isObject(shared[k])) c[k] = isObject(mine) ? { ...shared[k], ...mine } : (mine ?? shared[k]);
    }
    if (shared["sentAt"] !== undefined && c["sentAt"] === undefined) c["sentAt"] = shared["sentAt"];
    const problems = callErrors(c, at);
    if (problems.length > 0) {
      errors.push(...problems);
      continue;
    }
    if (typeof c["messageId"] !== "string") c["messageId"] = messageIdFor(c, source);
    if (c["timestamp"] === undefined || c["timestamp"] === null) c["timestamp"] = new Date(receivedAt).toISOString();
    const size = Buffer.byteLength(JSON.stringify(c));
    if (size > MAX_CALL_BYTES) {
      errors.push(`${at ? at.slice(0, -1) : "the call"} is ${size} bytes; Customer.io takes at most ${MAX_CALL_BYTES} bytes a call`);
      continue;
    }
    calls.push({ call: c, messageId: c["messageId"] as string, delivery: c["type"] === "track" && c["event"] === REPORT_DELIVERY_EVENT });
  }
  if (errors.length > 0) return fail(errors);
  return { ok: true, calls };
}
