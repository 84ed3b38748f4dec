// One row per unsubscribe or resubscribe recorded by the hosted page, a mail client's one-click
// button, or the JSON API. The latest row of a delivery is its current state.
import { Column, Entity, Index, PrimaryGeneratedColumn } from "typeorm";

export type UnsubscribeMethod = "page" | "one_click" | "api";

@Entity({ name: "unsubscribes" })
@Index("unsubscribes_delivery_id_idx", ["deliveryId", "id"])
export class Unsubscribe {
  @PrimaryGeneratedColumn({ name: "id", type: "bigint" })
  id: string;

  @Column({ name: "delivery_id", type: "text" })
  deliveryId: string;

  /** true = unsubscribed, false = resubscribed (undo). */
  @Column({ name: "unsubscribe", type: "boolean" })
  unsubscribe: boolean;

  @Column({ name: "method", type: "text" })
  method: UnsubscribeMethod;

  /** Its delivery_events row (source = unsubscribe_page). */
  @Column({ name: "event_id", type: "text" })
  eventId: string;

  @Column({ name: "created_at", type: "timestamptz", default: () => "now()" })
  createdAt: Date;

  /** Custom subscription attributes: "queued", or why they were not (no person known, no credentials). */
  @Column({ name: "attributes_update", type: "text", nullable: true })
  attributesUpdate: string | null;

  /** Only with UNSUBSCRIBE_RECORD_CLIENT=true. */
  @Column({ name: "client_ip", type: "text", nullable: true })
  clientIp: string | null;

  @Column({ name: "user_agent", type: "text", nullable: true })
  userAgent: string | null;
}
