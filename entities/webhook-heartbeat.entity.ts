// One row: when a reporting webhook last arrived (any instance; written at most once a minute per
// instance, off the request's path), so a silent webhook is noticed without scanning delivery_events,
// and when the silence was last reported (once per period for all instances together).
import { Column, Entity, PrimaryColumn } from "typeorm";

@Entity({ name: "webhook_heartbeat" })
export class WebhookHeartbeat {
  @PrimaryColumn({ name: "id", type: "integer", default: 1 })
  id: number;

  /** The latest arrival of a signed reporting webhook; null until the first one. */
  @Column({ name: "last_received_at", type: "timestamptz", nullable: true })
  lastReceivedAt: Date | null;

  /** Since when arrivals are recorded (the upgrade that added this table, or the install). */
  @Column({ name: "watching_since", type: "timestamptz", default: () => "now()" })
  watchingSince: Date;

  /** When the silence was last logged as an error. */
  @Column({ name: "silence_reported_at", type: "timestamptz", nullable: true })
  silenceReportedAt: Date | null;
}
