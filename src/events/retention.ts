// Owns retention of raw events: dropping whole monthly partitions older than EVENT_RETENTION_DAYS, and
// remembering how far that went (event_retention.dropped_before), which replay respects.
import type pg from "pg";
import { listPartitions } from "./partitions.js";

/**
 * Drops the monthly partitions whose every event is older than the retention, and records how far
 * events have been dropped (event_retention.dropped_before), which replay respects. A whole partition
 * goes at once: no DELETE, no vacuum. DETACH ... CONCURRENTLY takes no lock that inserts or reports
 * wait for; a detach interrupted by a crash is finished on the next round.
 */
export async function dropOldPartitions(client: pg.PoolClient, days: number, now: number): Promise<string[]> {
  const cutoff = now - days * 86400_000;
  const pending = await client.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'delivery_events'::regclass AND i.inhdetachpending`,
  );
  for (const { name } of pending.rows) await client.query(`ALTER TABLE delivery_events DETACH PARTITION ${name} FINALIZE`);
  const old = (await listPartitions(client)).filter((p) => p.to.getTime() <= cutoff);
  const dropped: string[] = [...pending.rows.map((r) => r.name)];
  for (const { name } of pending.rows) await client.query(`DROP TABLE IF EXISTS ${name}`);
  for (const p of old) {
    // The horizon first: if we stop between the two, replay is only more careful than it needs to be.
    await client.query(
      `INSERT INTO event_retention (id, dropped_before) VALUES (1, $1)
       ON CONFLICT (id) DO UPDATE SET dropped_before = GREATEST(event_retention.dropped_before, EXCLUDED.dropped_before)`,
      [p.to],
    );
    await client.query(`ALTER TABLE delivery_events DETACH PARTITION ${p.name} CONCURRENTLY`);
    await client.query(`DROP TABLE ${p.name}`);
    dropped.push(p.name);
  }
  // Events dated before 2000 (a wrong clock) are older than any retention.
  const { rows } = await client.query<{ any: boolean }>("SELECT EXISTS (SELECT 1 FROM delivery_events_before_2000) AS any");
  if (rows[0]?.any) await client.query("DELETE FROM delivery_events_before_2000");
  return dropped;
}

/** How far retention has dropped events: replay leaves rows built from older events alone. */
export async function retentionHorizon(db: Pick<pg.Pool, "query">): Promise<Date | null> {
  const { rows } = await db.query<{ dropped_before: Date }>("SELECT dropped_before FROM event_retention WHERE id = 1");
  return rows[0]?.dropped_before ?? null;
}
