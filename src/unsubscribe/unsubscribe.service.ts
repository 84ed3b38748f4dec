// Owns recording an unsubscribe (or its undo). One write through the event store, committed together:
// a delivery_events row (source = unsubscribe_page) applied to the delivery (unsubscribed_at), an
// `unsubscribes` row, an outbox item for Customer.io's POST /unsubscribe/{delivery_id}, and, when custom
// subscription attributes are configured, an outbox item for PUT /api/v1/customers/{id}. A repeat of
// the current state is a no-op.
import { randomUUID } from "node:crypto";
import type { UnsubscribeMethod } from "../../entities/unsubscribe.entity.js";
import { metrics } from "../core/metrics.js";
import type { DeliveryFacts, DeliveryLookup } from "../events/delivery-lookup.js";
import type { JsonObject } from "../events/event.js";
import type { EventSink, OutboxEntry } from "../events/event-store.js";
import { normalizeUnsubscribe } from "../events/unsubscribe-event.js";

export interface UnsubscribeOptions {
  /** Attributes to set on the person (PUT /api/v1/customers/{id}); on resubscribe, booleans are inverted. */
  attributes: Record<string, unknown> | null;
  canIdentify: boolean;
}

export class UnsubscribeService {
  /** The change being recorded per delivery: the next one for the same delivery waits for it. */
  private recording = new Map<string, Promise<unknown>>();

  constructor(
    private readonly store: EventSink,
    private readonly deliveries: Pick<DeliveryLookup, "get">,
    private readonly options: UnsubscribeOptions,
    private readonly onQueued: () => void,
  ) {}

  /** What the page may show about a delivery; undefined for one we have never seen. */
  summary(deliveryId: string): Promise<DeliveryFacts | undefined> {
    return this.deliveries.get(deliveryId);
  }

  /**
   * Records the change unless the delivery is already in that state; resolves after the commit.
   * Changes for one delivery are recorded one at a time (two clicks at once, or the page and a mail
   * client together), so each sees the state the previous one left.
   */
  record(deliveryId: string, unsubscribe: boolean, method: UnsubscribeMethod, client?: { ip: string; userAgent: string }): Promise<{ changed: boolean }> {
    const previous = this.recording.get(deliveryId) ?? Promise.resolve();
    const current = previous.catch(() => undefined).then(() => this.recordNow(deliveryId, unsubscribe, method, client));
    this.recording.set(deliveryId, current);
    void current.catch(() => undefined).finally(() => {
      if (this.recording.get(deliveryId) === current) this.recording.delete(deliveryId);
    });
    return current;
  }

  private async recordNow(deliveryId: string, unsubscribe: boolean, method: UnsubscribeMethod, client?: { ip: string; userAgent: string }): Promise<{ changed: boolean }> {
    const facts = await this.deliveries.get(deliveryId);
    if ((facts?.unsubscribed ?? null) === unsubscribe) return { changed: false };

    const now = Date.now();
    const eventId = `unsubscribe:${randomUUID()}`;
    const payload: JsonObject = { event_id: eventId, delivery_id: deliveryId, unsubscribe, method, timestamp: Math.floor(now / 1000) };
    // Urgent, and ordered per delivery and per person: Customer.io ends up with the latest choice.
    const outbox: OutboxEntry[] = [{ eventId, kind: "unsubscribe", deliveryId, payload: { delivery_id: deliveryId, unsubscribe }, orderingKey: `unsubscribe:${deliveryId}`, priority: 0 }];
    let attributesUpdate: string | null = null;
    if (this.options.attributes) {
      const personId = facts?.personId ?? null;
      if (!this.options.canIdentify) attributesUpdate = "skipped: no credentials for attribute updates (CIO_SITE_ID/CIO_API_KEY, or CIO_CDP_WRITE_KEY with REPORTER_TRANSPORT=pipelines)";
      else if (!personId) attributesUpdate = "skipped: no person known for this delivery (no webhook with its identifiers yet)";
      else {
        outbox.push({ eventId: null, kind: "identify", deliveryId, payload: { customer_id: personId, attributes: attributesFor(this.options.attributes, unsubscribe) }, orderingKey: `identify:${personId}`, priority: 0 });
        attributesUpdate = "queued";
      }
    }
    await this.store.store({
      event: normalizeUnsubscribe(payload, now),
      outbox,
      unsubscribe: { deliveryId, unsubscribe, method, attributesUpdate, clientIp: client?.ip ?? null, userAgent: client?.userAgent?.slice(0, 500) ?? null },
    });
    metrics.unsubscribeRecorded(method, unsubscribe);
    this.onQueued();
    return { changed: true };
  }
}

/** The configured attributes for an unsubscribe; for a resubscribe, boolean values inverted (others dropped). */
export function attributesFor(attributes: Record<string, unknown>, unsubscribe: boolean): Record<string, unknown> {
  if (unsubscribe) return attributes;
  return Object.fromEntries(Object.entries(attributes).filter(([, v]) => typeof v === "boolean").map(([k, v]) => [k, !v]));
}
