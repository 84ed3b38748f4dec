// One row: how far retention has dropped raw events (EVENT_RETENTION_DAYS). Rows built from events
// older than this keep their values; replay leaves them alone instead of rebuilding them from the
// events that are left.
import { Column, Entity, PrimaryColumn } from "typeorm";

@Entity({ name: "event_retention" })
export class EventRetention {
  @PrimaryColumn({ name: "id", type: "integer", default: 1 })
  id: number;

  /** Every event before this time has been dropped. */
  @Column({ name: "dropped_before", type: "timestamptz" })
  droppedBefore: Date;
}
