// Owns the housekeeping every instance runs on a schedule, one instance at a time (an advisory lock;
// an instance that finds it taken skips the round): create the event partitions ahead, drop the ones
// older than EVENT_RETENTION_DAYS (whole partitions: deliveries, people and the report rollup keep
// their numbers), and purge delivered outbox rows older than OUTBOX_RETENTION_DAYS.
import type pg from "pg";
import { checkout } from "../core/database.js";
import type { Logger } from "../core/logger.js";
import { ensureAhead } from "../events/partitions.js";
import { dropOldPartitions } from "../events/retention.js";

export interface MaintenanceConfig {
  /** Drop event partitions that hold only events older than this; null keeps everything. */
  eventRetentionDays: number | null;
  /** Purge delivered and superseded outbox rows older than this. */
  outboxRetentionDays: number;
}

export interface MaintenanceReport {
  ran: boolean;
  partitionsCreated: string[];
  partitionsDropped: string[];
  outboxPurged: number;
}

const LOCK = "hashtext('cio-companion:maintenance')";

/** One round; `ran: false` when another instance holds the lock. */
export async function runMaintenance(pool: pg.Pool, config: MaintenanceConfig, log: Logger, now = Date.now()): Promise<MaintenanceReport> {
  const report: MaintenanceReport = { ran: false, partitionsCreated: [], partitionsDropped: [], outboxPurged: 0 };
  const client = await checkout(pool);
  try {
    const { rows } = await client.query<{ locked: boolean }>(`SELECT pg_try_advisory_lock(${LOCK}) AS locked`);
    if (!rows[0]?.locked) return report;
    report.ran = true;
    try {
      report.partitionsCreated = await ensureAhead(pool, 3, now);
      if (config.eventRetentionDays !== null) report.partitionsDropped = await dropOldPartitions(client, config.eventRetentionDays, now);
      const purged = await client.query(
        `DELETE FROM outbox WHERE status IN ('delivered', 'superseded') AND updated_at < $1`,
        [new Date(now - config.outboxRetentionDays * 86400_000)],
      );
      report.outboxPurged = purged.rowCount ?? 0;
    } finally {
      await client.query(`SELECT pg_advisory_unlock(${LOCK})`);
    }
  } finally {
    client.release();
  }
  if (report.partitionsCreated.length + report.partitionsDropped.length + report.outboxPurged > 0) log.info(report, "maintenance");
  return report;
}
