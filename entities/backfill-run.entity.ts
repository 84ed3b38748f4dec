// One row per pass over Customer.io's App API messages: a backfill (`npm run backfill`) or an hourly
// reconciliation. It holds the window read, what was found missing and what was filled, and, while it
// runs, the checkpoint a backfill resumes from after an interruption (the window being read and the
// App API's cursor), updated in the same transaction as the events of each page.
import { Column, Entity, Index, PrimaryGeneratedColumn } from "typeorm";

export type BackfillRunKind = "backfill" | "reconcile";
export type BackfillRunStatus = "running" | "done" | "failed";

@Entity({ name: "backfill_runs" })
// The last run of each kind (the dashboard), and an unfinished backfill to resume.
@Index("backfill_runs_kind_idx", ["kind", "id"])
export class BackfillRun {
  @PrimaryGeneratedColumn({ name: "id", type: "bigint" })
  id: string;

  @Column({ name: "kind", type: "text" })
  kind: BackfillRunKind;

  /** `running` (or interrupted: no process holds its lock), `done`, or `failed` (see `error`). */
  @Column({ name: "status", type: "text", default: "running" })
  status: BackfillRunStatus;

  /** Messages created from `window_from` (included) to `window_to` (excluded). */
  @Column({ name: "window_from", type: "timestamptz" })
  windowFrom: Date;

  @Column({ name: "window_to", type: "timestamptz" })
  windowTo: Date;

  /** The App API message type asked for (`--type`); null for all. */
  @Column({ name: "message_type", type: "text", nullable: true })
  messageType: string | null;

  /** Where to go on: `{window_start, window_end, cursor}` (unix seconds, the App API's `next`). */
  @Column({ name: "checkpoint", type: "jsonb", nullable: true })
  checkpoint: Record<string, unknown> | null;

  @Column({ name: "messages_read", type: "integer", default: 0 })
  messagesRead: number;

  /** Deliveries with no row before this run, and those of them it created. */
  @Column({ name: "deliveries_missing", type: "integer", default: 0 })
  deliveriesMissing: number;

  @Column({ name: "deliveries_created", type: "integer", default: 0 })
  deliveriesCreated: number;

  /** Metrics the App API reports that the delivery rows did not have, and the events added for them. */
  @Column({ name: "metrics_missing", type: "integer", default: 0 })
  metricsMissing: number;

  @Column({ name: "metrics_added", type: "integer", default: 0 })
  metricsAdded: number;

  /** Metrics the delivery rows already had. */
  @Column({ name: "metrics_present", type: "integer", default: 0 })
  metricsPresent: number;

  /** Missing metrics by name (`sent`, `opened`, ..., `delivery` for whole deliveries). */
  @Column({ name: "missing_by_metric", type: "jsonb", default: () => "'{}'" })
  missingByMetric: Record<string, number>;

  /** The newest `created` among the messages read: deliveries were still being made until then. */
  @Column({ name: "newest_message_at", type: "timestamptz", nullable: true })
  newestMessageAt: Date | null;

  /** What the gap most likely comes from, when one was found. */
  @Column({ name: "cause", type: "text", nullable: true })
  cause: string | null;

  @Column({ name: "error", type: "text", nullable: true })
  error: string | null;

  @Column({ name: "started_at", type: "timestamptz", default: () => "now()" })
  startedAt: Date;

  @Column({ name: "updated_at", type: "timestamptz", default: () => "now()" })
  updatedAt: Date;

  @Column({ name: "finished_at", type: "timestamptz", nullable: true })
  finishedAt: Date | null;
}
