// Owns rebuilding the projections (deliveries, person_subscriptions) from delivery_events, so a fix to
// the projection can be applied to history. It runs the same projection SQL as ingestion, in one
// transaction: readers see the old rows until it commits, and ingestion waits (webhooks may answer 503
// meanwhile, which Customer.io retries). It reports what changed, column by column.
import type pg from "pg";
import { normalizeEvent, type EventSource, type JsonObject, type NormalizedEvent } from "./event.js";
import { quarantine } from "./event-store.js";
import { batchParams, PROJECT_SQL } from "./projection.sql.js";
import { normalizeRelay, relayKindOf } from "./relay-event.js";
import { normalizeUnsubscribe } from "./unsubscribe-event.js";

export interface TableChanges {
  before: number;
  after: number;
  added: number;
  removed: number;
  changed: number;
  /** Column -> number of rows whose value changed. */
  columns: Record<string, number>;
}

export interface ReplayReport {
  events: number;
  deliveries: TableChanges;
  people: TableChanges;
  dryRun: boolean;
}

interface StoredEvent {
  event_id: string;
  source: EventSource;
  payload: JsonObject;
  received_ms: number;
}

/** Rebuilds one stored event's projection input exactly as ingestion built it. */
export function renormalize(row: StoredEvent): NormalizedEvent {
  const quarantined = (row.payload as { quarantined?: { raw?: unknown; reason?: unknown } }).quarantined;
  if (quarantined && typeof quarantined.raw === "string") {
    // Stored as text because PostgreSQL refused the content: project it exactly as ingestion did.
    const original = JSON.parse(quarantined.raw) as JsonObject;
    const event = normalizeEvent(original, quarantined.raw, row.source, row.received_ms);
    return { ...quarantine(event, String(quarantined.reason)), eventId: row.event_id };
  }
  const raw = JSON.stringify(row.payload);
  const event =
    row.source === "relay"
      ? normalizeRelay(relayKindOf(row.payload), row.payload, row.received_ms)
      : row.source === "unsubscribe_page"
        ? normalizeUnsubscribe(row.payload, row.received_ms)
        : normalizeEvent(row.payload, raw, row.source, row.received_ms);
  // The stored event_id wins: an id derived from the original bytes cannot be derived again from jsonb.
  return { ...event, eventId: row.event_id };
}

const TABLES = {
  deliveries: { key: "delivery_id", ignore: ["updated_at"] },
  person_subscriptions: { key: "person_key", ignore: ["updated_at"] },
} as const;

async function diff(client: pg.PoolClient, table: keyof typeof TABLES): Promise<TableChanges> {
  const { key, ignore } = TABLES[table];
  const columns = (
    await client.query<{ column_name: string }>(
      "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
      [table],
    )
  ).rows
    .map((r) => r.column_name)
    .filter((c) => c !== key && !(ignore as readonly string[]).includes(c));
  const { rows } = await client.query(`
    SELECT
      (SELECT count(*) FROM replay_old_${table})::int AS before,
      (SELECT count(*) FROM ${table})::int AS after,
      count(*) FILTER (WHERE o.${key} IS NULL)::int AS added,
      count(*) FILTER (WHERE n.${key} IS NULL)::int AS removed,
      count(*) FILTER (WHERE o.${key} IS NOT NULL AND n.${key} IS NOT NULL AND (${columns.map((c) => `o.${c} IS DISTINCT FROM n.${c}`).join(" OR ")}))::int AS changed,
      ${columns.map((c) => `count(*) FILTER (WHERE o.${key} IS NOT NULL AND n.${key} IS NOT NULL AND o.${c} IS DISTINCT FROM n.${c})::int AS "${c}"`).join(",\n      ")}
    FROM replay_old_${table} o FULL JOIN ${table} n USING (${key})`);
  const r = rows[0] as Record<string, number>;
  const changedColumns = Object.fromEntries(columns.filter((c) => (r[c] ?? 0) > 0).map((c) => [c, r[c]!]));
  return { before: r["before"]!, after: r["after"]!, added: r["added"]!, removed: r["removed"]!, changed: r["changed"]!, columns: changedColumns };
}

export async function replayProjections(pool: pg.Pool, options: { chunkSize?: number; dryRun?: boolean } = {}): Promise<ReplayReport> {
  const chunkSize = options.chunkSize ?? 5000;
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query("SET LOCAL statement_timeout = 0");
    for (const table of Object.keys(TABLES)) {
      await client.query(`CREATE TEMP TABLE replay_old_${table} ON COMMIT DROP AS SELECT * FROM ${table}`);
    }
    // Ingestion waits behind these locks until we commit, so no event is applied twice or missed.
    await client.query("LOCK TABLE delivery_events IN SHARE MODE");
    // TRUNCATE fires no row triggers: the rollup is emptied too, and rebuilt by the inserts below.
    await client.query("TRUNCATE deliveries, person_subscriptions, delivery_stats_daily");

    let events = 0;
    let after = "";
    for (;;) {
      // Keyset pagination in event_id order; any order gives the same rows (order independence).
      const { rows } = await client.query<StoredEvent>(
        `SELECT event_id, source, payload, extract(epoch FROM received_at) * 1000 AS received_ms
         FROM delivery_events WHERE event_id > $1 ORDER BY event_id LIMIT $2`,
        [after, chunkSize],
      );
      if (rows.length === 0) break;
      await client.query(PROJECT_SQL, batchParams(rows.map((r) => renormalize({ ...r, received_ms: Number(r.received_ms) }))));
      events += rows.length;
      after = rows[rows.length - 1]!.event_id;
    }

    const report: ReplayReport = {
      events,
      deliveries: await diff(client, "deliveries"),
      people: await diff(client, "person_subscriptions"),
      dryRun: options.dryRun ?? false,
    };
    await client.query(options.dryRun ? "ROLLBACK" : "COMMIT");
    return report;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
