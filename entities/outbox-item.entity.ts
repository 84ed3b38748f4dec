// The outbox: every call we owe Customer.io (relayed metrics, unsubscribes, attribute updates, calls
// relayed to the Data Pipelines API), written in the same transaction as the event that caused it: a
// row moves from `pending` to `delivered`, or to
// `dead` (a permanent error, or attempts exhausted) with the last answer kept, or to `superseded` (a
// newer call of the same ordering key carries the latest state, so this one is never sent).
import { Column, Entity, Index, PrimaryGeneratedColumn } from "typeorm";

export type OutboxStatus = "pending" | "delivered" | "dead" | "superseded";
export type OutboxKind = "metric" | "push_event" | "unsubscribe" | "identify" | "cdp_call";

@Entity({ name: "outbox" })
@Index("outbox_due_idx", ["priority", "nextAttemptAt", "id"], { where: "status = 'pending'" })
@Index("outbox_ordering_key_idx", ["orderingKey", "id"], { where: "status = 'pending' AND ordering_key IS NOT NULL" })
@Index("outbox_status_idx", ["status", "updatedAt"])
// The open rows by kind, oldest first: what /metrics counts at every scrape (src/metrics/outbox-gauges.ts)
// without reading the delivered rows, which are most of the table.
@Index("outbox_open_kind_idx", ["status", "kind", "createdAt"], { where: "status IN ('pending', 'dead')" })
export class OutboxItem {
  @PrimaryGeneratedColumn({ name: "id", type: "bigint" })
  id: string;

  /** The delivery_events row this call reports, when there is one: at most one call per event. */
  @Column({ name: "event_id", type: "text", nullable: true, unique: true })
  eventId: string | null;

  @Column({ name: "kind", type: "text" })
  kind: OutboxKind;

  @Column({ name: "delivery_id", type: "text", nullable: true })
  deliveryId: string | null;

  /**
   * Calls of one key carry a state (a delivery's unsubscribe, a person's attributes): one is in flight
   * at a time, and the newest supersedes older pending ones, so Customer.io ends up with the latest.
   */
  @Column({ name: "ordering_key", type: "text", nullable: true })
  orderingKey: string | null;

  /** 0 = urgent (unsubscribes and their attribute updates), 1 = metrics; claimed in that order. */
  @Column({ name: "priority", type: "smallint", default: 1 })
  priority: number;

  /** What to send; its shape depends on kind (see src/reporter/outbox-sender.ts). */
  @Column({ name: "payload", type: "jsonb" })
  payload: Record<string, unknown>;

  @Column({ name: "status", type: "text", default: "pending" })
  status: OutboxStatus;

  @Column({ name: "attempts", type: "integer", default: 0 })
  attempts: number;

  @Column({ name: "next_attempt_at", type: "timestamptz", default: () => "now()" })
  nextAttemptAt: Date;

  /** Lease of the instance sending it; a crashed sender's lease runs out and another picks it up. */
  @Column({ name: "locked_until", type: "timestamptz", nullable: true })
  lockedUntil: Date | null;

  @Column({ name: "locked_by", type: "text", nullable: true })
  lockedBy: string | null;

  @Column({ name: "last_status", type: "integer", nullable: true })
  lastStatus: number | null;

  @Column({ name: "last_error", type: "text", nullable: true })
  lastError: string | null;

  @Column({ name: "created_at", type: "timestamptz", default: () => "now()" })
  createdAt: Date;

  @Column({ name: "delivered_at", type: "timestamptz", nullable: true })
  deliveredAt: Date | null;

  @Column({ name: "updated_at", type: "timestamptz", default: () => "now()" })
  updatedAt: Date;
}
