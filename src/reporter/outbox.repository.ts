// Owns the outbox's SQL: claiming due rows (most urgent first, one call in flight per ordering key,
// older calls of a key superseded by its newest), leases that the sender keeps alive while it works,
// and the outcomes, each fenced by the lease: a sender whose lease was taken over cannot change a row
// any more. (Rows are queued by the event store, in the same statement as their event.)
import type pg from "pg";
import { checkout } from "../core/database.js";
import { jsonText } from "../events/event.js";
import type { OutboxKind, OutboxStatus } from "../../entities/outbox-item.entity.js";

type Queryable = Pick<pg.Pool, "query"> | Pick<pg.PoolClient, "query">;

export interface OutboxRow {
  id: string;
  event_id: string | null;
  kind: OutboxKind;
  delivery_id: string | null;
  ordering_key: string | null;
  priority: number;
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
  orderingKey?: string | null;
  priority?: number;
}

/** Queues calls outside the write path (benchmarks, tools); a call for an event already queued is not queued again. */
export async function enqueue(db: Queryable, items: readonly NewOutboxItem[]): Promise<number> {
  if (items.length === 0) return 0;
  const result = await db.query(
    `INSERT INTO outbox (event_id, kind, delivery_id, payload, ordering_key, priority)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::text[], $6::smallint[])
     ON CONFLICT (event_id) DO NOTHING`,
    [items.map((i) => i.eventId), items.map((i) => i.kind), items.map((i) => i.deliveryId), items.map((i) => jsonText(i.payload)), items.map((i) => i.orderingKey ?? null), items.map((i) => i.priority ?? 1)],
  );
  return result.rowCount ?? 0;
}

const ROW = `o.id, o.event_id, o.kind, o.delivery_id, o.ordering_key, o.priority, o.payload, o.status, o.attempts, o.next_attempt_at,
  o.last_status, o.last_error, o.created_at, o.delivered_at`;

/**
 * Takes up to `limit` due rows under the lease `token`, most urgent first (priority, then due time). For
 * a call with an ordering key (an unsubscribe, an attribute update), only the key's newest pending row
 * is sent, and only while no other row of the key is in flight; older pending rows of the key are
 * marked `superseded` (the newest carries the latest state). Claims are serialised across instances by
 * an advisory lock, so two instances never put two rows of one key in flight. The claim commits at
 * once; the sender keeps the lease alive (extendLeases) while it works; if it dies, the lease runs out
 * and any instance takes the rows again.
 */
export async function claim(db: Pick<pg.Pool, "connect">, limit: number, leaseSeconds: number, token: string): Promise<OutboxRow[]> {
  const client = await checkout(db);
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock(hashtext('cio-companion:outbox-claim'))");
    await client.query(
      `UPDATE outbox o SET status = 'superseded', updated_at = now()
       WHERE o.status = 'pending' AND o.ordering_key IS NOT NULL AND (o.locked_until IS NULL OR o.locked_until < now())
         AND EXISTS (SELECT 1 FROM outbox n WHERE n.ordering_key = o.ordering_key AND n.status = 'pending' AND n.id > o.id)`,
    );
    const { rows } = await client.query<OutboxRow>(
      `UPDATE outbox o
       SET locked_until = now() + make_interval(secs => $2), locked_by = $3, updated_at = now()
       WHERE o.id IN (
         SELECT c.id FROM outbox c
         WHERE c.status = 'pending' AND c.next_attempt_at <= now() AND (c.locked_until IS NULL OR c.locked_until < now())
           AND (c.ordering_key IS NULL OR NOT EXISTS (
             SELECT 1 FROM outbox f WHERE f.ordering_key = c.ordering_key AND f.status = 'pending' AND f.id <> c.id AND f.locked_until >= now()))
         ORDER BY c.priority, c.next_attempt_at, c.id
         LIMIT $1
         FOR UPDATE SKIP LOCKED)
       RETURNING ${ROW}`,
      [limit, leaseSeconds, token],
    );
    await client.query("COMMIT");
    return rows.sort((a, b) => a.priority - b.priority || Number(a.id) - Number(b.id));
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** Keeps the leases of rows still being worked on alive; returns how many rows they hold. */
export async function extendLeases(db: Queryable, tokens: readonly string[], leaseSeconds: number): Promise<number> {
  if (tokens.length === 0) return 0;
  const result = await db.query(
    `UPDATE outbox SET locked_until = now() + make_interval(secs => $2) WHERE locked_by = ANY($1::text[]) AND status = 'pending'`,
    [tokens, leaseSeconds],
  );
  return result.rowCount ?? 0;
}

/**
 * Reserves the next request slot of the rate limit shared by every instance (one row of rate_limits,
 * slots 1/rate apart), and, with `ids`, counts an attempt for the rows about to be sent (only those
 * still held under `token`): one round trip. Returns the slot's time and the server's time now, both in
 * the server's clock (epoch ms), so the caller can wait for the slot whatever the round trip took.
 */
export async function reserveSlot(db: Queryable, limiter: string, perSecond: number, attempt: { ids: readonly string[]; token: string } | null): Promise<{ slotAt: number; now: number }> {
  const { rows } = await db.query<{ slot_at: number; now: number }>({
    name: "outbox-reserve-slot",
    text: `WITH attempt AS (
             UPDATE outbox SET attempts = attempts + 1 WHERE id = ANY($1::bigint[]) AND locked_by = $2 AND status = 'pending'
           )
           INSERT INTO rate_limits AS r (name, next_slot) VALUES ($3, clock_timestamp() + make_interval(secs => $4))
           ON CONFLICT (name) DO UPDATE SET next_slot = GREATEST(r.next_slot, clock_timestamp()) + make_interval(secs => $4)
           RETURNING extract(epoch FROM r.next_slot - make_interval(secs => $4)) * 1000 AS slot_at, extract(epoch FROM clock_timestamp()) * 1000 AS now`,
    values: [attempt?.ids ?? [], attempt?.token ?? "", limiter, 1 / perSecond],
  });
  return { slotAt: Number(rows[0]!.slot_at), now: Number(rows[0]!.now) };
}

/** Gives claimed rows back unsent (a sender stopping): due at once. */
export async function release(db: Queryable, ids: readonly string[], token: string): Promise<void> {
  if (ids.length === 0) return;
  await db.query(
    `UPDATE outbox SET locked_until = NULL, locked_by = NULL, updated_at = now()
     WHERE id = ANY($1::bigint[]) AND locked_by = $2 AND status = 'pending'`,
    [ids, token],
  );
}

/** Records calls Customer.io accepted; only rows still held under `token`. Returns how many. */
export async function markDelivered(db: Queryable, ids: readonly string[], status: number, token: string): Promise<number> {
  if (ids.length === 0) return 0;
  const result = await db.query(
    `UPDATE outbox SET status = 'delivered', delivered_at = now(), locked_until = NULL, last_status = $2, last_error = NULL, updated_at = now()
     WHERE id = ANY($1::bigint[]) AND locked_by = $3 AND status = 'pending'`,
    [ids, status, token],
  );
  return result.rowCount ?? 0;
}

export interface Failure {
  id: string;
  /** false = retry after nextAttemptInMs; true = the row goes to dead letters. */
  dead: boolean;
  nextAttemptInMs: number;
  status: number | null;
  error: string;
}

/** Records failed calls (retry later, or dead letter); only rows still held under `token`. */
export async function markFailed(db: Queryable, failures: readonly Failure[], token: string): Promise<number> {
  if (failures.length === 0) return 0;
  const result = await db.query(
    `UPDATE outbox o
     SET status = CASE WHEN f.dead THEN 'dead' ELSE 'pending' END,
         next_attempt_at = now() + make_interval(secs => f.delay_ms / 1000.0),
         locked_until = NULL, last_status = f.status, last_error = left(f.error, 2000), updated_at = now()
     FROM unnest($1::bigint[], $2::bool[], $3::float8[], $4::int[], $5::text[]) AS f(id, dead, delay_ms, status, error)
     WHERE o.id = f.id AND o.locked_by = $6 AND o.status = 'pending'`,
    [failures.map((f) => f.id), failures.map((f) => f.dead), failures.map((f) => f.nextAttemptInMs), failures.map((f) => f.status), failures.map((f) => f.error), token],
  );
  return result.rowCount ?? 0;
}

/**
 * The person of each delivery, as its webhooks named them (identifiers.id, else the deprecated
 * customer_id): who our own metrics are reported for as Data Pipelines calls.
 */
export async function customersOf(db: Queryable, deliveryIds: readonly string[]): Promise<Map<string, string>> {
  const { rows } = await db.query<{ delivery_id: string; person: string }>(
    `SELECT delivery_id, coalesce(identifiers->>'id', customer_id) AS person FROM deliveries
     WHERE delivery_id = ANY($1::text[]) AND coalesce(identifiers->>'id', customer_id) IS NOT NULL`,
    [deliveryIds],
  );
  return new Map(rows.map((r) => [r.delivery_id, r.person]));
}

export async function list(db: Queryable, status: OutboxStatus, limit: number): Promise<OutboxRow[]> {
  const { rows } = await db.query<OutboxRow>(
    `SELECT ${ROW} FROM outbox o WHERE status = $1 ORDER BY id LIMIT $2`,
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

/** Deletes dead letters, or delivered (or superseded) rows, older than the given age. */
export async function purge(db: Queryable, status: "dead" | "delivered" | "superseded", olderThanDays: number): Promise<number> {
  const result = await db.query(`DELETE FROM outbox WHERE status = $1 AND updated_at < now() - make_interval(days => $2)`, [status, olderThanDays]);
  return result.rowCount ?? 0;
}

export async function counts(db: Queryable): Promise<Record<OutboxStatus, number> & { due: number; oldest_pending_seconds: number | null }> {
  const { rows } = await db.query(
    `SELECT count(*) FILTER (WHERE status = 'pending')::int AS pending,
            count(*) FILTER (WHERE status = 'delivered')::int AS delivered,
            count(*) FILTER (WHERE status = 'dead')::int AS dead,
            count(*) FILTER (WHERE status = 'superseded')::int AS superseded,
            count(*) FILTER (WHERE status = 'pending' AND next_attempt_at <= now())::int AS due,
            extract(epoch FROM now() - min(created_at) FILTER (WHERE status = 'pending'))::float8 AS oldest_pending_seconds
     FROM outbox`,
  );
  return rows[0] as Record<OutboxStatus, number> & { due: number; oldest_pending_seconds: number | null };
}
