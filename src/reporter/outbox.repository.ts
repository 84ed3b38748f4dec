// Owns the outbox's SQL: enqueue (inside the caller's transaction), claim with FOR UPDATE SKIP LOCKED
// and a lease (so several instances never take the same row, and a crashed sender's rows come back),
// and the outcomes: delivered, retry later, dead letter.
import type pg from "pg";
import type { OutboxKind, OutboxStatus } from "../../entities/outbox-item.entity.js";

type Queryable = Pick<pg.Pool, "query"> | Pick<pg.PoolClient, "query">;

export interface OutboxRow {
  id: string;
  event_id: string | null;
  kind: OutboxKind;
  delivery_id: string | null;
  payload: Record<string, unknown>;
  status: OutboxStatus;
  attempts: number;
  next_attempt_at: Date;
  last_status: number | null;
  last_error: string | null;
  created_at: Date;
  delivered_at: Date | null;
}

export interface NewOutboxItem {
  eventId: string | null;
  kind: OutboxKind;
  deliveryId: string | null;
  payload: Record<string, unknown>;
}

/** Queues calls; a call for an event already queued (or sent) is not queued again. */
export async function enqueue(db: Queryable, items: readonly NewOutboxItem[]): Promise<number> {
  if (items.length === 0) return 0;
  const result = await db.query(
    `INSERT INTO outbox (event_id, kind, delivery_id, payload)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[])
     ON CONFLICT (event_id) DO NOTHING`,
    [items.map((i) => i.eventId), items.map((i) => i.kind), items.map((i) => i.deliveryId), items.map((i) => JSON.stringify(i.payload))],
  );
  return result.rowCount ?? 0;
}

/**
 * Takes up to `limit` due rows for this sender. The claim commits at once: the row stays `pending`
 * with a lease (`locked_until`); if the sender dies, the lease runs out and any instance takes it again.
 * `attempts` counts claims, so a row that crashes its sender every time still ends in dead letters.
 */
export async function claim(db: Queryable, limit: number, leaseSeconds: number, sender: string): Promise<OutboxRow[]> {
  const { rows } = await db.query<OutboxRow>(
    `UPDATE outbox o
     SET locked_until = now() + make_interval(secs => $2), locked_by = $3, attempts = o.attempts + 1, updated_at = now()
     WHERE o.id IN (
       SELECT id FROM outbox
       WHERE status = 'pending' AND next_attempt_at <= now() AND (locked_until IS NULL OR locked_until < now())
       ORDER BY next_attempt_at, id
       LIMIT $1
       FOR UPDATE SKIP LOCKED)
     RETURNING o.id, o.event_id, o.kind, o.delivery_id, o.payload, o.status, o.attempts, o.next_attempt_at,
               o.last_status, o.last_error, o.created_at, o.delivered_at`,
    [limit, leaseSeconds, sender],
  );
  return rows.sort((a, b) => Number(a.id) - Number(b.id));
}

/** Gives claimed rows back unsent (a sender stopping): due at once, the claim not counted as an attempt. */
export async function release(db: Queryable, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.query(
    `UPDATE outbox SET locked_until = NULL, locked_by = NULL, attempts = greatest(attempts - 1, 0), updated_at = now()
     WHERE id = ANY($1::bigint[]) AND status = 'pending'`,
    [ids],
  );
}

export async function markDelivered(db: Queryable, ids: readonly string[], status: number): Promise<void> {
  if (ids.length === 0) return;
  await db.query(
    `UPDATE outbox SET status = 'delivered', delivered_at = now(), locked_until = NULL, last_status = $2, last_error = NULL, updated_at = now()
     WHERE id = ANY($1::bigint[])`,
    [ids, status],
  );
}

export interface Failure {
  id: string;
  /** null = retry at nextAttemptAt; otherwise the row goes to dead letters. */
  dead: boolean;
  nextAttemptInMs: number;
  status: number | null;
  error: string;
}

export async function markFailed(db: Queryable, failures: readonly Failure[]): Promise<void> {
  if (failures.length === 0) return;
  await db.query(
    `UPDATE outbox o
     SET status = CASE WHEN f.dead THEN 'dead' ELSE 'pending' END,
         next_attempt_at = now() + make_interval(secs => f.delay_ms / 1000.0),
         locked_until = NULL, last_status = f.status, last_error = left(f.error, 2000), updated_at = now()
     FROM unnest($1::bigint[], $2::bool[], $3::float8[], $4::int[], $5::text[]) AS f(id, dead, delay_ms, status, error)
     WHERE o.id = f.id`,
    [failures.map((f) => f.id), failures.map((f) => f.dead), failures.map((f) => f.nextAttemptInMs), failures.map((f) => f.status), failures.map((f) => f.error)],
  );
}

export async function list(db: Queryable, status: OutboxStatus, limit: number): Promise<OutboxRow[]> {
  const { rows } = await db.query<OutboxRow>(
    `SELECT id, event_id, kind, delivery_id, payload, status, attempts, next_attempt_at, last_status, last_error, created_at, delivered_at
     FROM outbox WHERE status = $1 ORDER BY id LIMIT $2`,
    [status, limit],
  );
  return rows;
}

/** Sends dead letters again (all, or the given ids), with a fresh attempt count. */
export async function retryDead(db: Queryable, ids: readonly string[] | "all"): Promise<number> {
  const result = await db.query(
    `UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = now(), locked_until = NULL, updated_at = now()
     WHERE status = 'dead' AND ($1::bigint[] IS NULL OR id = ANY($1::bigint[]))`,
    [ids === "all" ? null : ids],
  );
  return result.rowCount ?? 0;
}

/** Deletes dead letters, or delivered rows, older than the given age. */
export async function purge(db: Queryable, status: "dead" | "delivered", olderThanDays: number): Promise<number> {
  const result = await db.query(`DELETE FROM outbox WHERE status = $1 AND updated_at < now() - make_interval(days => $2)`, [status, olderThanDays]);
  return result.rowCount ?? 0;
}

export async function counts(db: Queryable): Promise<Record<OutboxStatus, number> & { due: number; oldest_pending_seconds: number | null }> {
  const { rows } = await db.query(
    `SELECT count(*) FILTER (WHERE status = 'pending')::int AS pending,
            count(*) FILTER (WHERE status = 'delivered')::int AS delivered,
            count(*) FILTER (WHERE status = 'dead')::int AS dead,
            count(*) FILTER (WHERE status = 'pending' AND next_attempt_at <= now())::int AS due,
            extract(epoch FROM now() - min(created_at) FILTER (WHERE status = 'pending'))::float8 AS oldest_pending_seconds
     FROM outbox`,
  );
  return rows[0] as Record<OutboxStatus, number> & { due: number; oldest_pending_seconds: number | null };
}
