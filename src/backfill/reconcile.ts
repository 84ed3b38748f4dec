// Owns the hourly reconciliation: compare a recent window (RECONCILE_WINDOW_HOURS ending
// RECONCILE_DELAY_MINUTES ago: by then Customer.io has sent, and retried, its webhooks) with the App
// API, and fill what is missing the same way a backfill does. Every instance runs the schedule; one
// at a time does the work (an advisory lock; an instance that finds it taken skips the round). Each run
// is recorded in backfill_runs (kind 'reconcile'); one that finds more than RECONCILE_ALERT_PERCENT of
// the App API's metrics missing logs an error saying what was missing and the likely cause.
import type pg from "pg";
import type { ReconcileConfig } from "../core/config.js";
import { checkout } from "../core/database.js";
import type { Logger } from "../core/logger.js";
import { metrics } from "../core/metrics.js";
import { createRun, finishRun, type RunRow } from "./backfill-runs.repository.js";
import { likelyCause } from "./gap-cause.js";
import type { MessageFiller } from "./message-filler.js";

const LOCK = "hashtext('cio-companion:reconcile')";
/** Windows of 6 hours, four read at once: the 48 hours go at the App API's full rate. */
const WINDOW_DAYS = 0.25;

export interface ReconcileOutcome {
  /** False when another instance holds the lock. */
  ran: boolean;
  run?: RunRow;
  /** Share of the App API's metrics that were missing here, in percent. */
  missingPercent?: number;
}

export class Reconciler {
  constructor(
    private readonly pool: pg.Pool,
    private readonly filler: MessageFiller,
    private readonly config: ReconcileConfig,
    private readonly log: Logger,
  ) {}

  /** One run over the window ending `delayMinutes` before `now`; `signal` stops it after the page being written. */
  async runOnce(now = Date.now(), signal?: AbortSignal): Promise<ReconcileOutcome> {
    const client = await checkout(this.pool);
    try {
      const { rows } = await client.query<{ locked: boolean }>(`SELECT pg_try_advisory_lock(${LOCK}) AS locked`);
      if (!rows[0]?.locked) return { ran: false };
      try {
        return { ran: true, ...(await this.reconcile(now, signal)) };
      } finally {
        await client.query(`SELECT pg_advisory_unlock(${LOCK})`).catch(() => undefined);
      }
    } finally {
      client.release();
    }
  }

  private async reconcile(now: number, signal?: AbortSignal): Promise<Omit<ReconcileOutcome, "ran">> {
    // Whole minutes, so the windows start on whole seconds.
    const to = Math.floor((now - this.config.delayMinutes * 60_000) / 60_000) * 60_000;
    const from = to - this.config.windowHours * 3_600_000;
    const run = await createRun(this.pool, { kind: "reconcile", from, to, type: null });
    try {
      const result = await this.filler.fill({ from, to, runId: run.id, windowDays: WINDOW_DAYS, signal });
      if (result.interrupted) {
        metrics.reconciled("stopped");
        const stopped = await finishRun(this.pool, run.id, { status: "failed", error: "stopped before the end of the window: the service was shutting down" });
        return { run: stopped };
      }
      const c = result.counts;
      const reported = c.metricsMissing + c.metricsPresent;
      const missingPercent = reported > 0 ? (100 * c.metricsMissing) / reported : 0;
      let cause: string | null = null;
      if (c.deliveriesMissing + c.metricsMissing > 0) {
        const { rows } = await this.pool.query<{ last_received_at: Date | null }>("SELECT last_received_at FROM webhook_heartbeat WHERE id = 1");
        cause = likelyCause({ ...result.shape, messagesRead: c.messagesRead, deliveriesMissing: c.deliveriesMissing, lastWebhookAt: rows[0]?.last_received_at?.getTime() ?? null });
      }
      const done = await finishRun(this.pool, run.id, { status: "done", cause });
      metrics.reconciled(c.deliveriesMissing + c.metricsMissing === 0 ? "complete" : "filled", { deliveriesMissing: c.deliveriesMissing, metricsMissing: c.metricsMissing, missingRatio: missingPercent / 100 });
      const window = { from: new Date(from).toISOString(), to: new Date(to).toISOString() };
      const fields = { runId: run.id, window, messagesChecked: c.messagesRead, deliveriesMissing: c.deliveriesMissing, metricsMissing: c.metricsMissing, missingByMetric: c.missingByMetric, deliveriesCreated: c.deliveriesCreated, metricsAdded: c.metricsAdded, missingPercent: Number(missingPercent.toFixed(2)) };
      if (c.deliveriesMissing + c.metricsMissing === 0) this.log.info(fields, "reconciliation: nothing missing");
      else {
        const what = `${c.deliveriesMissing} deliveries and ${c.metricsMissing} metrics (${Object.entries(c.missingByMetric).sort((a, b) => b[1] - a[1]).map(([m, n]) => `${m} ${n}`).join(", ")})`;
        const message = `reconciliation: ${what} that Customer.io's App API reports for ${window.from} to ${window.to} were missing here (${missingPercent.toFixed(1)}% of its metrics); ${c.metricsAdded} metrics and ${c.deliveriesCreated} deliveries filled. Likely cause: ${cause}`;
        if (missingPercent > this.config.alertPercent) this.log.error({ ...fields, cause }, message);
        else this.log.warn({ ...fields, cause }, message);
      }
      return { run: done, missingPercent };
    } catch (err) {
      metrics.reconciled("failed");
      await finishRun(this.pool, run.id, { status: "failed", error: (err as Error).message.slice(0, 2000) }).catch(() => undefined);
      throw err;
    }
  }
}
