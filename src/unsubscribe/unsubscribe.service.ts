// Owns recording an unsubscribe (or its undo). In one transaction: an `unsubscribes` row, a
// delivery_events row (source = unsubscribe_page) applied to the delivery (unsubscribed_at), an outbox
// item for Customer.io's POST /unsubscribe/{delivery_id}, and, when custom subscription attributes are
// configured, an outbox item for PUT /api/v1/customers/{id}. A repeat of the current state is a no-op.
import { randomUUID } from "node:crypto";
import type pg from "pg";
import type { UnsubscribeMethod } from "../../entities/unsubscribe.entity.js";
import { inTransaction } from "../core/database.js";
import { enqueue, type NewOutboxItem } from "../reporter/outbox.repository.js";
import { normalizeEvent, type JsonObject, type NormalizedEvent } from "../webhooks/event.js";
import { writeBatch } from "../webhooks/event-store.js";

export interface UnsubscribeOptions {
  /** Attributes to set on the person (PUT /api/v1/customers/{id}); on resubscribe, booleans are inverted. */
  attributes: Record<string, unknown> | null;
  canIdentify: boolean;
}

export interface DeliverySummary {
  channel: string | null;
  recipient: string | null;
  customerId: string | null;
  unsubscribed: boolean | null;
}

/** The delivery_events row for an unsubscribe; replay rebuilds it from the payload. */
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
  return { ...normalizeEvent(asEvent, raw, "unsubscribe_page", receivedAt), payload: raw };
}

export class UnsubscribeService {
  constructor(
    private readonly pool: pg.Pool,
    private readonly options: UnsubscribeOptions,
    private readonly onQueued: () => void,
  ) {}

  async summary(deliveryId: string): Promise<DeliverySummary | null> {
    const { rows } = await this.pool.query<{ channel: string | null; recipient: string | null; customer_id: string | null; unsubscribed: boolean | null }>(
      `SELECT d.channel, d.recipient, d.customer_id,
              (SELECT u.unsubscribe FROM unsubscribes u WHERE u.delivery_id = d.delivery_id ORDER BY u.id DESC LIMIT 1) AS unsubscribed
       FROM deliveries d WHERE d.delivery_id = $1`,
      [deliveryId],
    );
    const r = rows[0];
    return r ? { channel: r.channel, recipient: r.recipient, customerId: r.customer_id, unsubscribed: r.unsubscribed } : null;
  }

  /** Records the change unless the delivery is already in that state. Resolves after the commit. */
  async record(deliveryId: string, unsubscribe: boolean, method: UnsubscribeMethod, client?: { ip: string; userAgent: string }): Promise<{ changed: boolean }> {
    const changed = await inTransaction(this.pool, async (db) => {
      // Two clicks at once, or the page and a mail client together: one at a time per delivery.
      await db.query("SELECT pg_advisory_xact_lock(hashtext('unsubscribe:' || $1))", [deliveryId]);
      const { rows } = await db.query<{ unsubscribe: boolean }>("SELECT unsubscribe FROM unsubscribes WHERE delivery_id = $1 ORDER BY id DESC LIMIT 1", [deliveryId]);
      if (rows[0]?.unsubscribe === unsubscribe) return false;
      const now = Date.now();
      const eventId = `unsubscribe:${randomUUID()}`;
      const payload: JsonObject = { event_id: eventId, delivery_id: deliveryId, unsubscribe, method, timestamp: Math.floor(now / 1000) };
      const event = normalizeUnsubscribe(payload, now);
      await writeBatch(db, [event]);

      const outbox: NewOutboxItem[] = [{ eventId, kind: "unsubscribe", deliveryId, payload: { delivery_id: deliveryId, unsubscribe } }];
      let attributesUpdate: string | null = null;
      if (this.options.attributes) {
        const person = await db.query<{ id: string | null }>("SELECT coalesce(identifiers->>'id', customer_id) AS id FROM deliveries WHERE delivery_id = $1", [deliveryId]);
        const personId = person.rows[0]?.id ?? null;
        if (!this.options.canIdentify) attributesUpdate = "skipped: CIO_SITE_ID/CIO_API_KEY not set";
        else if (!personId) attributesUpdate = "skipped: no person known for this delivery (no webhook with its identifiers yet)";
        else {
          outbox.push({ eventId: null, kind: "identify", deliveryId, payload: { customer_id: personId, attributes: attributesFor(this.options.attributes, unsubscribe) } });
          attributesUpdate = "queued";
        }
      }
      await enqueue(db, outbox);
      await db.query(
        `INSERT INTO unsubscribes (delivery_id, unsubscribe, method, event_id, attributes_update, client_ip, user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [deliveryId, unsubscribe, method, eventId, attributesUpdate, client?.ip ?? null, client?.userAgent?.slice(0, 500) ?? null],
      );
      return true;
    });
    if (!changed) return { changed: false };
    this.onQueued();
    return { changed: true };
  }
}

/** The configured attributes for an unsubscribe; for a resubscribe, boolean values inverted (others dropped). */
export function attributesFor(attributes: Record<string, unknown>, unsubscribe: boolean): Record<string, unknown> {
  if (unsubscribe) return attributes;
  return Object.fromEntries(Object.entries(attributes).filter(([, v]) => typeof v === "boolean").map(([k, v]) => [k, !v]));
}
