// Owns recognising erased people in events that arrive after their erasure (Customer.io retries for 7
// days, and a person may still be messaged), so those events are stored without personal data. Erased
// people are known only as keyed hashes (HMAC-SHA256 with ERASURE_SECRET) of their identifiers: an
// email address (lower case), a customer id, a cio_id. The set is read from `erasures` and re-read at
// most every few seconds; while it is empty, checking an event costs nothing.
import { createHmac } from "node:crypto";
import type pg from "pg";
import { CLEARED_FIELDS, jsonText, type JsonObject, type NormalizedEvent } from "./event.js";

export type IdentifierKind = "email" | "customer_id" | "cio_id";

/** The keyed hash an identifier is recorded as. */
export function subjectHash(secret: string, kind: IdentifierKind, value: string): string {
  const normalized = kind === "email" ? value.trim().toLowerCase() : value.trim();
  return createHmac("sha256", secret).update(`${kind}:${normalized}`).digest("hex");
}

/** The identifiers an event carries, by kind. */
function identifiersOf(event: NormalizedEvent): Array<[IdentifierKind, string]> {
  const out: Array<[IdentifierKind, string]> = [];
  let ids: JsonObject = {};
  try {
    ids = event.identifiers ? (JSON.parse(event.identifiers) as JsonObject) : {};
  } catch {
    /* not an object: nothing to read */
  }
  const add = (kind: IdentifierKind, v: unknown) => {
    if ((typeof v === "string" && v !== "") || typeof v === "number") out.push([kind, String(v)]);
  };
  add("email", event.email);
  add("email", ids["email"]);
  if (event.recipient?.includes("@")) add("email", event.recipient);
  add("customer_id", event.customerId);
  add("customer_id", ids["id"]);
  add("cio_id", ids["cio_id"]);
  return out;
}

/**
 * The event with its personal data removed: identifiers, addresses, subject, the link's query string,
 * the failure message; the payload keeps only what is not about the person. Its metric, time and
 * delivery stay, so counts do not change.
 */
export function scrub(event: NormalizedEvent): NormalizedEvent {
  let link: string | null = null;
  try {
    if (event.href) link = `${new URL(event.href).origin}${new URL(event.href).pathname}`;
  } catch {
    link = null;
  }
  const skeleton = { erased: true, event_id: event.eventId, object_type: event.objectType, metric: event.metric, timestamp: Math.floor(event.occurredAt / 1000), delivery_id: event.deliveryId };
  return { ...event, ...CLEARED_FIELDS, href: link, payload: jsonText(skeleton) };
}

export class ErasedPeople {
  private hashes = new Set<string>();
  private loadedAt = 0;
  private loading?: Promise<void>;

  constructor(
    private readonly pool: Pick<pg.Pool, "query">,
    private readonly secret: string,
    private readonly refreshMs = 5000,
  ) {}

  /** Reads the erased set again now. */
  async refresh(): Promise<void> {
    const { rows } = await this.pool.query<{ subject_hash: string }>("SELECT DISTINCT subject_hash FROM erasures");
    this.hashes = new Set(rows.map((r) => r.subject_hash));
    this.loadedAt = Date.now();
  }

  /** The event as it may be stored: scrubbed if it is about an erased person. */
  guard(event: NormalizedEvent): NormalizedEvent {
    if (Date.now() - this.loadedAt > this.refreshMs && !this.loading) {
      this.loading = this.refresh().catch(() => undefined).finally(() => {
        this.loading = undefined;
      });
    }
    if (this.hashes.size === 0) return event;
    const erased = identifiersOf(event).some(([kind, value]) => this.hashes.has(subjectHash(this.secret, kind, value)));
    return erased ? scrub(event) : event;
  }
}
