// Owns the SQL of backfill_runs: a pass over the App API's messages (a backfill or a reconciliation),
// its counts, its checkpoint (written in the transaction that writes each page's events), and the lock
// that tells a run in progress from an interrupted one.
import type pg from "pg";
import type { BackfillRunKind, BackfillRunStatus } from "../../entities/backfill-run.entity.js";

type Queryable = Pick<pg.Pool, "query">;

/** What a pass found and did; summed page by page. */
export interface RunCounts {
  messagesRead: number;
  deliveriesMissing: number;
  deliveriesCreated: number;
  metricsMissing: number;
  metricsAdded: number;
  metricsPresent: number;
  /** Missing metrics by name (webhook names: `opened` for human and machine opens alike). */
  missingByMetric: Record<string, number>;
  /** The newest `created` read (ms), or null. */
  newestMessageAt: number | null;
}

export const emptyCounts = (): RunCounts => ({
  messagesRead: 0,
  deliveriesMissing: 0,
  deliveriesCreated: 0,
  metricsMissing: 0,
  metricsAdded: 0,
  metricsPresent: 0,
  missingByMetric: {},
  newestMessageAt: null,
});

export function addCounts(total: RunCounts, part: RunCounts): void {
  for (const k of ["messagesRead", "deliveriesMissing", "deliveriesCreated", "metricsMissing", "metricsAdded", "metricsPresent"] as const) total[k] += part[k];
  for (const [m, n] of Object.entries(part.missingByMetric)) total.missingByMetric[m] = (total.missingByMetric[m] ?? 0) + n;
  if (part.newestMessageAt !== null) total.newestMessageAt = Math.max(total.newestMessageAt ?? 0, part.newestMessageAt);
}

/**
 * Where a run goes on. The range is read in windows of `window_days` days (several at once); `done`
 * holds the start (unix seconds) of each window read to its end, `cursors` the App API's cursor of
 * each window read part of the way (keyed by its start).
 */
export interface Checkpoint {
  window_days: number;
  done: number[];
  cursors: Record<string, string>;
}

export interface RunRow {
  id: string;
  kind: BackfillRunKind;
  status: BackfillRunStatus;
  window_from: Date;
  window_to: Date;
  message_type: string | null;
  checkpoint: Checkpoint | null;
  messages_read: number;
  deliveries_missing: number;
  deliveries_created: number;
  metrics_missing: number;
  metrics_added: number;
  metrics_present: number;
  missing_by_metric: Record<string, number>;
  newest_message_at: Date | null;
  cause: string | null;
  error: string | null;
  started_at: Date;
  updated_at: Date;
  finished_at: Date | null;
}

export const countsOf = (r: RunRow): RunCounts => ({
  messagesRead: r.messages_read,
  deliveriesMissing: r.deliveries_missing,
  deliveriesCreated: r.deliveries_created,
  metricsMissing: r.metrics_missing,
  metricsAdded: r.metrics_added,
  metricsPresent: r.metrics_present,
  missingByMetric: r.missing_by_metric,
  newestMessageAt: r.newest_message_at ? r.newest_message_at.getTime() : null,
});

export async function createRun(db: Queryable, run: { kind: BackfillRunKind; from: number; to: number; type: string | null }): Promise<RunRow> {
  const { rows } = await db.query<RunRow>(
    `INSERT INTO backfill_runs (kind, window_from, window_to, message_type) VALUES ($1, $2, $3, $4) RETURNING *`,
    [run.kind, new Date(run.from), new Date(run.to), run.type],
  );
  return rows[0]!;
}

/** The latest unfinished (or failed) backfill of exactly this range and type: the one to resume. */
export async function findResumable(db: Queryable, run: { from: number; to: number; type: string | null }): Promise<RunRow | undefined> {
  const { rows } = await db.query<RunRow>(
    `SELECT * FROM backfill_runs
     WHERE kind = 'backfill' AND status IN ('running', 'failed') AND window_from = $1 AND window_to = $2 AND message_type IS NOT DISTINCT FROM $3
     ORDER BY id DESC LIMIT 1`,
    [new Date(run.from), new Date(run.to), run.type],
  );
  return rows[0];
}

/** A page of a window written: the window's next cursor, or null when it was its last page. */
export interface WindowStep {
  /** The window's start, unix seconds. */
  window: number;
  cursor: string | null;
}

/**
 * Adds a page's counts and moves its window's entry of the checkpoint: call it in the transaction that
 * wrote the page. Only that entry changes (the row's latest version, once concurrent writers of other
 * windows have committed), so the checkpoint holds exactly what is committed.
 */
export async function recordPage(db: Queryable, runId: string, counts: RunCounts, windowDays: number, step: WindowStep): Promise<void> {
  await db.query(
    `UPDATE backfill_runs SET
       messages_read = messages_read + $2, deliveries_missing = deliveries_missing + $3, deliveries_created = deliveries_created + $4,
       metrics_missing = metrics_missing + $5, metrics_added = metrics_added + $6, metrics_present = metrics_present + $7,
       missing_by_metric = coalesce((
         SELECT jsonb_object_agg(k, coalesce((missing_by_metric ->> k)::int, 0) + coalesce(($8::jsonb ->> k)::int, 0))
         FROM (SELECT jsonb_object_keys(missing_by_metric) UNION SELECT jsonb_object_keys($8::jsonb)) keys(k)), '{}'),
       newest_message_at = GREATEST(newest_message_at, $9),
       checkpoint = (SELECT CASE WHEN $12::text IS NULL
                       THEN jsonb_set(jsonb_set(c, '{done}', (c -> 'done') || to_jsonb($11::bigint)), '{cursors}', (c -> 'cursors') - $11::text)
                       ELSE jsonb_set(c, ARRAY['cursors', $11::text], to_jsonb($12::text)) END
                     FROM (SELECT coalesce(checkpoint, jsonb_build_object('window_days', $10::float8, 'done', '[]'::jsonb, 'cursors', '{}'::jsonb)) AS c) cp),
       status = 'running', error = NULL, updated_at = now()
     WHERE id = $1`,
    [
      runId, counts.messagesRead, counts.deliveriesMissing, counts.deliveriesCreated, counts.metricsMissing, counts.metricsAdded, counts.metricsPresent,
      JSON.stringify(counts.missingByMetric), counts.newestMessageAt === null ? null : new Date(counts.newestMessageAt), windowDays, step.window, step.cursor,
    ],
  );
}

export async function finishRun(db: Queryable, runId: string, outcome: { status: BackfillRunStatus; cause?: string | null; error?: string | null }): Promise<RunRow> {
  const { rows } = await db.query<RunRow>(
    `UPDATE backfill_runs SET status = $2, cause = $3, error = $4, updated_at = now(),
       finished_at = CASE WHEN $2 = 'done' THEN now() ELSE finished_at END,
       checkpoint = CASE WHEN $2 = 'done' THEN NULL ELSE checkpoint END
     WHERE id = $1 RETURNING *`,
    [runId, outcome.status, outcome.cause ?? null, outcome.error ?? null],
  );
  return rows[0]!;
}

/** The latest run of a kind (the dashboard's panel), finished or not. */
export async function lastRun(db: Queryable, kind: BackfillRunKind): Promise<RunRow | undefined> {
  const { rows } = await db.query<RunRow>(`SELECT * FROM backfill_runs WHERE kind = $1 ORDER BY id DESC LIMIT 1`, [kind]);
  return rows[0];
}

/**
 * Holds a session lock that says "this run is being worked on" for as long as `client` keeps it: a
 * second process resuming the same run finds it taken. False if another process holds it.
 */
export async function tryLockRun(client: pg.PoolClient, runId: string): Promise<boolean> {
  const { rows } = await client.query<{ locked: boolean }>(`SELECT pg_try_advisory_lock(hashtext('cio-companion:backfill-run'), $1::int) AS locked`, [Number(runId) % 2 ** 31]);
  return rows[0]!.locked;
}

export async function unlockRun(client: pg.PoolClient, runId: string): Promise<void> {
  await client.query(`SELECT pg_advisory_unlock(hashtext('cio-companion:backfill-run'), $1::int)`, [Number(runId) % 2 ** 31]);
}
