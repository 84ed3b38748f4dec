// One row per event (a Customer.io reporting webhook, a relayed metric, an unsubscribe taken by our
// page), stored once: a retry of an event has the same event_id, the same time and the same delivery,
// so it meets its first copy on the primary key and is a no-op. The table is partitioned by
// occurred_at (the event's own time, inside the signed body, so a retry lands in the same partition);
// partitions are created ahead by the maintenance job and on demand (src/events/partitions.ts), and
// dropped whole by retention. The key holds delivery_id so the table can be distributed by it, next to
// its deliveries (docs/scaling.md); events that belong to no delivery have delivery_id ''.
import { Column, Entity, Index, PrimaryColumn } from "typeorm";

@Entity({ name: "delivery_events" })
@Index("delivery_events_delivery_id_idx", ["deliveryId"])
// Replay rebuilds a person's row from their events, and erasure finds them.
@Index("delivery_events_person_key_idx", ["personKey"], { where: "person_key IS NOT NULL" })
// Covers the links report (index-only scan over a date range of clicks).
@Index("delivery_events_clicks_idx", ["occurredAt", "href", "deliveryId", "source", "machine"], { where: "metric = 'clicked'" })
export class DeliveryEvent {
  @PrimaryColumn({ name: "event_id", type: "text" })
  eventId: string;

  /** '' for an event that belongs to no delivery (a person-level subscription event). */
  @PrimaryColumn({ name: "delivery_id", type: "text", default: "" })
  deliveryId: string;

  @Column({ name: "object_type", type: "text", nullable: true })
  objectType: string | null;

  @Column({ name: "metric", type: "text", nullable: true })
  metric: string | null;

  /** The partition key. */
  @PrimaryColumn({ name: "occurred_at", type: "timestamptz" })
  occurredAt: Date;

  @Column({ name: "received_at", type: "timestamptz", default: () => "now()" })
  receivedAt: Date;

  @Column({ name: "customer_id", type: "text", nullable: true })
  customerId: string | null;

  @Column({ name: "identifiers", type: "jsonb", nullable: true })
  identifiers: Record<string, unknown> | null;

  @Column({ name: "href", type: "text", nullable: true })
  href: string | null;

  @Column({ name: "link_id", type: "text", nullable: true })
  linkId: string | null;

  @Column({ name: "failure_message", type: "text", nullable: true })
  failureMessage: string | null;

  /** opened with prefetched=true or clicked with machine=true; false for other opens and clicks; else null. */
  @Column({ name: "machine", type: "boolean", nullable: true })
  machine: boolean | null;

  @Column({ name: "source", type: "text", default: "webhook" })
  source: string;

  /** The person_subscriptions row a subscription event applies to (cio_id:…, id:… or email:…); else null. */
  @Column({ name: "person_key", type: "text", nullable: true })
  personKey: string | null;

  @Column({ name: "payload", type: "jsonb" })
  payload: Record<string, unknown>;
}
