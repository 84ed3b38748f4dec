// One row per Customer.io reporting event (and, later, per relayed metric or unsubscribe), keyed by
// event_id: storing the same event twice is a no-op, which makes every retry harmless.
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

  @Column({ name: "delivery_id", type: "text", nullable: true })
  deliveryId: string | null;

  @Column({ name: "object_type", type: "text", nullable: true })
  objectType: string | null;

  @Column({ name: "metric", type: "text", nullable: true })
  metric: string | null;

  @Column({ name: "occurred_at", type: "timestamptz" })
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
