// Owns rebuilding the projections (deliveries, person_subscriptions) from delivery_events, so a fix to
// the projection can be applied to history, while ingestion goes on. It works a chunk of keys at a time
// (deliveries, then people), each in a short transaction of its own: the chunk's rows are rebuilt from
// their events into a temporary table with the same projection SQL as ingestion, compared with the live
// rows, and only the rows that differ are updated (inserted, deleted). A chunk locks its own rows only,
// for milliseconds, so webhooks for other deliveries never wait, and those for the chunk's wait no
// longer than the chunk; a replay that finds nothing to repair writes nothing. The chunk runs in
// REPEATABLE READ: if ingestion changes one of its rows meanwhile, the chunk fails to serialize and is
// done again, so no event is applied twice or missed. It reports what changed, column by column.
import type pg from "pg";
import { checkout } from "../core/database.js";
import { normalizeBackfill } from "./backfill-event.js";
import { normalizeEvent, type EventSource, type JsonObject, type NormalizedEvent } from "./event.js";
import { quarantine } from "./event-store.js";
import { batchParams, PROJECT_DELIVERIES_SQL, PROJECT_PEOPLE_SQL, REPLAY_TABLES } from "./projection.sql.js";
import { isPipelinesDelivery, normalizePipelinesDelivery } from "./pipelines-event.js";
import { normalizeRelay, relayKindOf } from "./relay-event.js";
import { retentionHorizon } from "./retention.js";
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
      ? isPipelinesDelivery(row.payload)
        ? normalizePipelinesDelivery(row.payload, row.event_id, row.received_ms)
        : normalizeRelay(relayKindOf(row.payload), row.payload, row.received_ms)
      : row.source === "unsubscribe_page"
        ? normalizeUnsubscribe(row.payload, row.received_ms)
        : row.source === "backfill"
          ? normalizeBackfill(row.payload, row.received_ms)
          : normalizeEvent(row.payload, raw, row.source, row.received_ms);
  // The stored event_id wins: an id derived from the original bytes cannot be derived again from jsonb.
  return { ...event, eventId: row.event_id };
}

interface Projection {
  table: keyof typeof REPLAY_TABLES;
  /** The key column, in the table and in delivery_events. */
  key: "delivery_id" | "person_key";
  sql: string;
}

const PROJECTIONS: readonly Projection[] = [
  { table: "deliveries", key: "delivery_id", sql: PROJECT_DELIVERIES_SQL },
  { table: "person_subscriptions", key: "person_key", sql: PROJECT_PEOPLE_SQL },
];
const IGNORED = ["updated_at"];

const emptyChanges = (): TableChanges => ({ before: 0, after: 0, added: 0, removed: 0, changed: 0, columns: {} });
// Ingestion changed or created one of the chunk's rows meanwhile: the chunk is done again.
const RETRYABLE = new Set(["40001", "40P01", "23505"]);

interface Columns {
  /** Compared (every column but the key and updated_at, generated ones included). */
  compared: string[];
  /** Written (the stored ones; generated columns follow). */
  written: string[];
}

async function columnsOf(db: pg.Pool, p: Projection): Promise<Columns> {
  const { rows } = await db.query<{ column_name: string; is_generated: string }>(
    "SELECT column_name, is_generated FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
    [p.table],
  );
  return {
    compared: rows.map((r) => r.column_name).filter((c) => c !== p.key && !IGNORED.includes(c)),
    written: rows.filter((r) => r.is_generated === "NEVER").map((r) => r.column_name),
  };
}

/**
 * Keys whose rows were built from events that retention has since dropped (before `horizon`): their
 * rows keep their values. For deliveries, those whose first event is older; for people, those with no
 * event kept (the kept, newer events still decide the latest state of the others).
 */
async function keptAsTheyAre(db: pg.PoolClient, p: Projection, keys: string[], horizon: Date | null): Promise<Set<string>> {
  if (!horizon) return new Set();
  const { rows } = await db.query<{ k: string }>(
    p.table === "deliveries"
      ? "SELECT delivery_id AS k FROM deliveries WHERE delivery_id = ANY($1) AND first_event_at < $2"
      : "SELECT k FROM unnest($1::text[]) AS k WHERE NOT EXISTS (SELECT 1 FROM delivery_events e WHERE e.person_key = k) AND $2::timestamptz IS NOT NULL",
    [keys, horizon],
  );
  return new Set(rows.map((r) => r.k));
}

/** The next keys after `after`, from the table and from the events (a key may be in only one of them). */
async function nextKeys(db: pg.Pool, p: Projection, after: string, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ k: string }>(
    `SELECT k FROM (
       (SELECT ${p.key} AS k FROM ${p.table} WHERE ${p.key} > $1 ORDER BY ${p.key} LIMIT $2)
       UNION
       (SELECT DISTINCT ${p.key} AS k FROM delivery_events WHERE ${p.key} > $1 AND ${p.key} <> '' ORDER BY ${p.key} LIMIT $2)
     ) keys ORDER BY k LIMIT $2`,
    [after, limit],
  );
  return rows.map((r) => r.k);
}

/** Rebuilds one chunk's rows in a transaction of its own; returns its events and what changed. */
async function rebuildChunk(db: pg.Pool, p: Projection, chunk: string[], columns: Columns, dryRun: boolean, horizon: Date | null): Promise<{ events: number; changes: TableChanges }> {
  const live = p.table;
  const rebuilt = REPLAY_TABLES[p.table];
  const k = p.key;
  const client = await checkout(db);
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ");
    const kept = await keptAsTheyAre(client, p, chunk, horizon);
    const keys = chunk.filter((key) => !kept.has(key));
    await client.query("SET LOCAL statement_timeout = '60s'");
    await client.query(`CREATE TEMP TABLE IF NOT EXISTS ${rebuilt} (LIKE ${live} INCLUDING DEFAULTS INCLUDING GENERATED, PRIMARY KEY (${k})) ON COMMIT DELETE ROWS`);
    // The live rows, locked in key order (as ingestion locks them) so they cannot change under us.
    await client.query(`SELECT 1 FROM ${live} WHERE ${k} = ANY($1) ORDER BY ${k} FOR UPDATE`, [keys]);
    const { rows } = await client.query<StoredEvent>(
      // Events still queued for the projector are not in the live rows yet: left out here too, the
      // projector applies them on top of whatever this chunk writes.
      `SELECT event_id, source, payload, extract(epoch FROM received_at) * 1000 AS received_ms FROM delivery_events e
       WHERE ${k} = ANY($1) AND NOT EXISTS (SELECT 1 FROM projection_queue q WHERE q.event_id = e.event_id)`,
      [keys],
    );
    if (rows.length > 0) await client.query(p.sql, batchParams(rows.map((r) => renormalize({ ...r, received_ms: Number(r.received_ms) }))));
    const changes = await diff(client, p, keys, columns.compared);
    if (!dryRun && changes.added + changes.removed + changes.changed > 0) {
      const differs = columns.compared.filter((c) => columns.written.includes(c)).map((c) => `o.${c} IS DISTINCT FROM n.${c}`).join(" OR ");
      const set = columns.written.filter((c) => c !== k).map((c) => `${c} = n.${c}`).join(", ");
      // Changed rows first, in one statement: their rollup counts move in one step (no lock-order
      // surprises for concurrent ingestion); rows added or removed are rare (repairs).
      await client.query(`UPDATE ${live} o SET ${set} FROM ${rebuilt} n WHERE o.${k} = n.${k} AND (${differs})`);
      await client.query(`INSERT INTO ${live} (${columns.written.join(", ")}) SELECT ${columns.written.join(", ")} FROM ${rebuilt} n WHERE NOT EXISTS (SELECT 1 FROM ${live} o WHERE o.${k} = n.${k}) ORDER BY ${k}`);
      await client.query(`DELETE FROM ${live} o WHERE o.${k} = ANY($1) AND NOT EXISTS (SELECT 1 FROM ${rebuilt} n WHERE n.${k} = o.${k})`, [keys]);
    }
    await client.query(dryRun ? "ROLLBACK" : "COMMIT");
    return { events: rows.length, changes };
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

async function diff(client: pg.PoolClient, p: Projection, keys: string[], columns: string[]): Promise<TableChanges> {
  const k = p.key;
  const both = `o.${k} IS NOT NULL AND n.${k} IS NOT NULL`;
  const { rows } = await client.query(
    `SELECT count(o.${k})::int AS before, count(n.${k})::int AS after,
       count(*) FILTER (WHERE o.${k} IS NULL)::int AS added,
       count(*) FILTER (WHERE n.${k} IS NULL)::int AS removed,
       count(*) FILTER (WHERE ${both} AND (${columns.map((c) => `o.${c} IS DISTINCT FROM n.${c}`).join(" OR ")}))::int AS changed,
       ${columns.map((c) => `count(*) FILTER (WHERE ${both} AND o.${c} IS DISTINCT FROM n.${c})::int AS "${c}"`).join(",\n       ")}
     FROM (SELECT * FROM ${p.table} WHERE ${k} = ANY($1)) o FULL JOIN ${REPLAY_TABLES[p.table]} n USING (${k})`,
    [keys],
  );
  const r = rows[0] as Record<string, number>;
  return {
    before: r["before"]!,
    after: r["after"]!,
    added: r["added"]!,
    removed: r["removed"]!,
    changed: r["changed"]!,
    columns: Object.fromEntries(columns.filter((c) => (r[c] ?? 0) > 0).map((c) => [c, r[c]!])),
  };
}

function add(total: TableChanges, part: TableChanges): void {
  for (const k of ["before", "after", "added", "removed", "changed"] as const) total[k] += part[k];
  for (const [c, n] of Object.entries(part.columns)) total.columns[c] = (total.columns[c] ?? 0) + n;
}

export interface ReplayOptions {
  /** Keys (deliveries, or people) per chunk. */
  chunkSize?: number;
  /** Rebuild and compare, then roll every chunk back. */
  dryRun?: boolean;
  /** Called after each chunk (progress). */
  onChunk?: (table: string, keysDone: number) => void;
}

export async function replayProjections(pool: pg.Pool, options: ReplayOptions = {}): Promise<ReplayReport> {
  const chunkSize = options.chunkSize ?? 500;
  const dryRun = options.dryRun ?? false;
  const report: ReplayReport = { events: 0, deliveries: emptyChanges(), people: emptyChanges(), dryRun };
  const horizon = await retentionHorizon(pool);
  for (const p of PROJECTIONS) {
    const columns = await columnsOf(pool, p);
    const total = p.table === "deliveries" ? report.deliveries : report.people;
    let after = "";
    let done = 0;
    for (;;) {
      const keys = await nextKeys(pool, p, after, chunkSize);
      if (keys.length === 0) break;
      for (let attempt = 1; ; attempt++) {
        try {
          const { events, changes } = await rebuildChunk(pool, p, keys, columns, dryRun, horizon);
          add(total, changes);
          if (p.table === "deliveries") report.events += events;
          break;
        } catch (err) {
          if (!RETRYABLE.has((err as { code?: string }).code ?? "") || attempt >= 20) throw err;
          await new Promise((r) => setTimeout(r, 10 * attempt));
        }
      }
      done += keys.length;
      after = keys[keys.length - 1]!;
      options.onChunk?.(p.table, done);
    }
  }
  // Events that only a person's row is built from (customer events without a delivery).
  const { rows } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM delivery_events WHERE delivery_id = '' AND person_key IS NOT NULL");
  report.events += rows[0]!.n;
  return report;
}
