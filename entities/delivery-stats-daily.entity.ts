// The incrementally maintained rollup behind the reports: per day (of the delivery's send, or its first
// event, in the report time zone) × channel × origin × action, how many deliveries reached each
// milestone. Kept exact by statement-level triggers on deliveries, in the same transaction (see the
// ReportRollup migration).
import { Column, Entity, Index, PrimaryColumn } from "typeorm";

const count = (name: string) => Column({ name, type: "integer", default: 0 });

@Entity({ name: "delivery_stats_daily" })
@Index("delivery_stats_daily_origin_idx", ["originType", "originId", "day"])
export class DeliveryStatsDaily {
  /** A local date in the report time zone (report_settings.timezone, UTC unless changed). */
  @PrimaryColumn({ name: "day", type: "date" })
  day: string;

  /** '' when not known yet (e.g. only relayed metrics so far). */
  @PrimaryColumn({ name: "channel", type: "text" })
  channel: string;

  /** campaign, broadcast, newsletter, transactional, or none. */
  @PrimaryColumn({ name: "origin_type", type: "text" })
  originType: string;

  /** 0 when none. */
  @PrimaryColumn({ name: "origin_id", type: "bigint" })
  originId: string;

  /** 0 when none. */
  @PrimaryColumn({ name: "action_id", type: "bigint" })
  actionId: string;

  @count("deliveries") deliveries: number;
  @count("sent") sent: number;
  @count("delivered") delivered: number;
  @count("opened") opened: number;
  @count("human_opened") humanOpened: number;
  @count("clicked") clicked: number;
  @count("human_clicked") humanClicked: number;
  @count("converted") converted: number;
  @count("replied") replied: number;
  @count("bounced") bounced: number;
  @count("failed") failed: number;
  @count("undeliverable") undeliverable: number;
  @count("dropped") dropped: number;
  @count("spammed") spammed: number;
  @count("unsubscribed") unsubscribed: number;
}
