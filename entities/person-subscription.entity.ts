// One row per person seen in a subscription event (subscribed, unsubscribed,
// cio_subscription_preferences_changed): their latest subscription state and topic preferences.
// Each facet keeps the event that set it, and the latest event (by occurred_at, then event_id) wins,
// whatever the arrival order.
import { Column, Entity, Index, PrimaryColumn } from "typeorm";

@Entity({ name: "person_subscriptions" })
// Hash indexes: any length of id or address (see deliveries).
@Index("person_subscriptions_person_id_idx", ["personId"], { type: "hash" })
@Index("person_subscriptions_email_idx", ["email"], { type: "hash" })
export class PersonSubscription {
  /** cio_id:<cio_id>, else id:<id>, else email:<address>. */
  @PrimaryColumn({ name: "person_key", type: "text" })
  personKey: string;

  @Column({ name: "cio_id", type: "text", nullable: true })
  cioId: string | null;

  @Column({ name: "person_id", type: "text", nullable: true })
  personId: string | null;

  @Column({ name: "email", type: "text", nullable: true })
  email: string | null;

  @Column({ name: "identifiers", type: "jsonb", nullable: true })
  identifiers: Record<string, unknown> | null;

  @Column({ name: "subscribed", type: "boolean", nullable: true })
  subscribed: boolean | null;

  @Column({ name: "subscription_changed_at", type: "timestamptz", nullable: true })
  subscriptionChangedAt: Date | null;

  @Column({ name: "subscription_event_id", type: "text", nullable: true })
  subscriptionEventId: string | null;

  @Column({ name: "preferences", type: "jsonb", nullable: true })
  preferences: Record<string, boolean> | null;

  @Column({ name: "preferences_changed_at", type: "timestamptz", nullable: true })
  preferencesChangedAt: Date | null;

  @Column({ name: "preferences_event_id", type: "text", nullable: true })
  preferencesEventId: string | null;

  @Column({ name: "updated_at", type: "timestamptz", default: () => "now()" })
  updatedAt: Date;
}
