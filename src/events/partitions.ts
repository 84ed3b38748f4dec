// Owns the partitions of delivery_events: one a month (UTC), named delivery_events_YYYYMM, plus two
// created by the migration for times before 2000 and from 2100 on. Partitions are created ahead by the
// maintenance job, and on demand when an event's month has none (an old event, a backfill). A new
// partition is created as a table of its own and then attached: ATTACH PARTITION does not wait for,
// or block, the inserts in flight (CREATE TABLE ... PARTITION OF would). One instance at a time creates
// them, under an advisory lock.
import type pg from "pg";
import { checkout } from "../core/database.js";

const LOWER = Date.UTC(2000, 0, 1);
const UPPER = Date.UTC(2100, 0, 1);

/** The first instant (UTC) of the month holding `ms`. */
export function monthStart(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}
const nextMonth = (ms: number) => {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
};
export const partitionName = (month: number) => {
  const d = new Date(month);
  return `delivery_events_${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, "0")}`;
};

/** The partitions of delivery_events with their bounds (months only), oldest first. */
export async function listPartitions(db: Pick<pg.Pool, "query">): Promise<Array<{ name: string; from: Date; to: Date }>> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'delivery_events'::regclass AND c.relname ~ '^delivery_events_[0-9]{6}$' ORDER BY c.relname`,
  );
  return rows.map(({ name }) => {
    const from = Date.UTC(Number(name.slice(-6, -2)), Number(name.slice(-2)) - 1, 1);
    return { name, from: new Date(from), to: new Date(nextMonth(from)) };
  });
}

/** Creates the monthly partitions holding these times, where missing; returns the ones it created. */
export async function ensurePartitions(db: Pick<pg.Pool, "connect">, times: Iterable<number>): Promise<string[]> {
  const months = [...new Set([...times].filter((t) => t >= LOWER && t < UPPER).map(monthStart))].sort((a, b) => a - b);
  if (months.length === 0) return [];
  const client = await checkout(db);
  const created: string[] = [];
  try {
    await client.query("SET lock_timeout = '5s'");
    await client.query("SELECT pg_advisory_lock(hashtext('cio-companion:partitions'))");
    try {
      const existing = new Set((await listPartitions(client)).map((p) => p.name));
      for (const month of months) {
        const name = partitionName(month);
        if (existing.has(name)) continue;
        const [from, to] = [new Date(month).toISOString(), new Date(nextMonth(month)).toISOString()];
        await client.query("BEGIN");
        await client.query(`CREATE TABLE ${name} (LIKE delivery_events INCLUDING DEFAULTS)`);
        // The constraint lets ATTACH skip checking the (empty) table's rows.
        await client.query(`ALTER TABLE ${name} ADD CONSTRAINT ${name}_range CHECK (occurred_at >= '${from}' AND occurred_at < '${to}')`);
        await client.query(`ALTER TABLE delivery_events ATTACH PARTITION ${name} FOR VALUES FROM ('${from}') TO ('${to}')`);
        await client.query(`ALTER TABLE ${name} DROP CONSTRAINT ${name}_range`);
        await client.query("COMMIT");
        created.push(name);
      }
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw err;
    } finally {
      await client.query("SELECT pg_advisory_unlock(hashtext('cio-companion:partitions'))").catch(() => undefined);
    }
  } finally {
    await client.query("RESET lock_timeout").catch(() => undefined);
    client.release();
  }
  return created;
}

/** The partitions from last month through `monthsAhead` months from now, where missing. */
export function ensureAhead(db: Pick<pg.Pool, "connect">, monthsAhead = 3, now = Date.now()): Promise<string[]> {
  const months = [monthStart(now) - 1];
  for (let m = monthStart(now), i = 0; i <= monthsAhead; i++, m = nextMonth(m)) months.push(m);
  return ensurePartitions(db, months);
}

/** Whether an error is PostgreSQL finding no partition for a row. */
export const isMissingPartition = (err: unknown) => {
  const e = err as { code?: string; message?: string };
  return e?.code === "23514" && /no partition of relation/.test(e.message ?? "");
};
