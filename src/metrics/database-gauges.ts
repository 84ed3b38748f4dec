// Owns the gauges read from PostgreSQL at each scrape: the outbox's open rows by status and kind, the
// age of its oldest pending row, estimates of every status, the projection queue and its oldest row,
// and when a webhook last arrived at any instance. They describe the whole database, so every instance reports the same values: aggregate
// them with max(), never sum() (docs/operations.md).
//
// The scrape must stay cheap with millions of delivered rows, so the statement never reads them:
// - pending and dead rows are counted from the partial index outbox_open_kind_idx (status, kind,
//   created_at WHERE status IN ('pending', 'dead')), and each count stops at COUNT_CAP, so a backlog
//   of a million rows costs what 1,000 per kind do (1000 means "at least 1000"; the estimate below
//   tells how many). Pending rows are recent and updated, so their heap pages are rarely all-visible
//   and each counted row costs a heap visit: over a million-row backlog not yet vacuumed, a cap of
//   10,000 read for 40-60 ms, 2,000 for 25 ms on a busy machine (npm run bench:metrics);
// - the oldest pending row of each kind is the first entry of that index for the kind;
// - the projection queue (webhook events stored, not yet applied to deliveries) is counted up to the
//   same cap, and its oldest row found, through its primary key;
// - delivered and superseded rows (most of the table) are estimated: the live rows PostgreSQL's
//   statistics count now (pg_stat_user_tables) times the share of each status at the last ANALYZE
//   (pg_stats), never counted.
// The statuses are literals in the SQL (a parameter would keep the planner from proving that the
// partial index applies).
import client from "prom-client";
import type pg from "pg";
import type { OutboxStatus } from "../../entities/outbox-item.entity.js";
import { METRICS_PREFIX, OUTBOX_KINDS } from "../core/metrics.js";

/** Pending or dead rows counted exactly per kind, up to this many. */
export const COUNT_CAP = 1_000;

// A record, so that a status added to the entity without being added here fails to compile.
const STATUSES: Record<OutboxStatus, true> = { pending: true, delivered: true, dead: true, superseded: true };

export const DATABASE_GAUGES_SQL = `
SELECT 'rows' AS gauge, 'pending' AS status, k.kind,
       (SELECT count(*) FROM (SELECT FROM outbox o WHERE o.status = 'pending' AND o.kind = k.kind LIMIT $1) c)::float8 AS value
FROM unnest($2::text[]) AS k(kind)
UNION ALL
SELECT 'rows', 'dead', k.kind,
       (SELECT count(*) FROM (SELECT FROM outbox o WHERE o.status = 'dead' AND o.kind = k.kind LIMIT $1) c)::float8
FROM unnest($2::text[]) AS k(kind)
UNION ALL
SELECT 'oldest_pending_age', 'pending', k.kind,
       coalesce(extract(epoch FROM now() - (SELECT o.created_at FROM outbox o WHERE o.status = 'pending' AND o.kind = k.kind ORDER BY o.created_at LIMIT 1)), 0)::float8
FROM unnest($2::text[]) AS k(kind)
UNION ALL
SELECT 'rows_estimate', v.status, NULL, round(t.n_live_tup * v.freq)::float8
FROM pg_stat_user_tables t
JOIN pg_stats s ON s.schemaname = t.schemaname AND s.tablename = t.relname AND s.attname = 'status'
CROSS JOIN LATERAL unnest(s.most_common_vals::text::text[], s.most_common_freqs) AS v(status, freq)
WHERE t.relid = 'outbox'::regclass
UNION ALL
SELECT 'webhook_heartbeat', NULL, NULL, extract(epoch FROM last_received_at)::float8
FROM webhook_heartbeat WHERE id = 1 AND last_received_at IS NOT NULL
UNION ALL
SELECT 'projection_queue', NULL, NULL, (SELECT count(*) FROM (SELECT FROM projection_queue LIMIT $1) c)::float8
UNION ALL
SELECT 'projection_oldest_age', NULL, NULL,
       coalesce(extract(epoch FROM now()) - (SELECT q.received_ms FROM projection_queue q ORDER BY q.seq LIMIT 1) / 1000, 0)::float8`;

interface GaugeRow {
  gauge: "rows" | "oldest_pending_age" | "rows_estimate" | "webhook_heartbeat" | "projection_queue" | "projection_oldest_age";
  status: string | null;
  kind: string | null;
  value: number;
}

export class DatabaseGauges {
  private readonly rows: client.Gauge<"status" | "kind">;
  private readonly estimate: client.Gauge<"status">;
  private readonly oldest: client.Gauge<"kind">;
  private readonly heartbeat: client.Gauge;
  private readonly queued: client.Gauge;
  private readonly queueAge: client.Gauge;
  private readonly readSeconds: client.Gauge;
  private readonly errors: client.Counter;
  /** Scrapes read one at a time: two at once would reset each other's values half-way. */
  private reading: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly pool: Pick<pg.Pool, "query">,
    registry: client.Registry,
  ) {
    const registers = [registry];
    this.rows = new client.Gauge({ name: `${METRICS_PREFIX}outbox_rows`, help: `Outbox rows pending or dead, by kind, database-wide (aggregate with max, not sum); counted up to ${COUNT_CAP} per status and kind.`, labelNames: ["status", "kind"], registers });
    this.estimate = new client.Gauge({ name: `${METRICS_PREFIX}outbox_rows_estimate`, help: "Outbox rows of each status, database-wide, estimated from PostgreSQL's statistics (live rows now, share of each status at the last ANALYZE).", labelNames: ["status"], registers });
    this.oldest = new client.Gauge({ name: `${METRICS_PREFIX}outbox_oldest_pending_age_seconds`, help: "Age of the oldest pending outbox row of each kind (0: none pending), database-wide (aggregate with max).", labelNames: ["kind"], registers });
    this.heartbeat = new client.Gauge({ name: `${METRICS_PREFIX}webhook_heartbeat_timestamp_seconds`, help: "When any instance last received a reporting webhook (Unix seconds; recorded at most once a minute per instance), database-wide; absent before the first.", registers });
    this.queued = new client.Gauge({ name: `${METRICS_PREFIX}projection_queue_rows`, help: `Webhook events stored but not yet applied to deliveries by the projector, database-wide (aggregate with max); counted up to ${COUNT_CAP}.`, registers });
    this.queueAge = new client.Gauge({ name: `${METRICS_PREFIX}projection_queue_oldest_age_seconds`, help: "Time since the oldest event waiting for the projector arrived (0: none waiting), database-wide (aggregate with max).", registers });
    this.readSeconds = new client.Gauge({ name: `${METRICS_PREFIX}metrics_database_read_seconds`, help: "How long this scrape's read of the database-wide gauges took.", registers });
    this.errors = new client.Counter({ name: `${METRICS_PREFIX}metrics_database_errors_total`, help: "Scrapes whose read of the database-wide gauges failed (those gauges are then left out of the scrape).", registers });
  }

  /** Reads the database now and sets the gauges; on failure leaves them out (no stale values) and counts it. */
  refresh(): Promise<void> {
    const next = this.reading.then(() => this.read());
    this.reading = next.catch(() => undefined);
    return next;
  }

  private async read(): Promise<void> {
    const started = performance.now();
    let result: GaugeRow[];
    try {
      result = (await this.pool.query<GaugeRow>({ name: "metrics-database-gauges", text: DATABASE_GAUGES_SQL, values: [COUNT_CAP, OUTBOX_KINDS] })).rows;
    } catch {
      this.clear();
      this.readSeconds.remove();
      this.errors.inc();
      return;
    }
    this.clear();
    // Every status has an estimate once the table was analyzed (0 for one too rare to be among its
    // most common values); none before.
    const estimated = result.some((r) => r.gauge === "rows_estimate");
    if (estimated) for (const status of Object.keys(STATUSES)) this.estimate.set({ status }, 0);
    for (const r of result) {
      if (r.gauge === "rows") this.rows.set({ status: r.status!, kind: r.kind! }, r.value);
      else if (r.gauge === "oldest_pending_age") this.oldest.set({ kind: r.kind! }, r.value);
      else if (r.gauge === "rows_estimate" && r.status! in STATUSES) this.estimate.set({ status: r.status! }, r.value);
      else if (r.gauge === "webhook_heartbeat") this.heartbeat.set(r.value);
      else if (r.gauge === "projection_queue") this.queued.set(r.value);
      else if (r.gauge === "projection_oldest_age") this.queueAge.set(Math.max(0, r.value));
    }
    this.readSeconds.set((performance.now() - started) / 1000);
  }

  /** No sample at all until set again: remove(), because a gauge without labels would otherwise still say 0. */
  private clear(): void {
    this.rows.reset();
    this.estimate.reset();
    this.oldest.reset();
    this.heartbeat.remove();
    this.queued.remove();
    this.queueAge.remove();
  }
}
