// Owns what the reports API and the dashboard say about completeness: whether reporting webhooks are
// arriving (and, if not, whether deliveries are still being made), and the last reconciliation with the
// App API: its window, what it checked, what was missing and filled, and the likely cause of a gap.
import type pg from "pg";
import type { ReconcileConfig } from "../core/config.js";
import { lastRun, type RunRow } from "./backfill-runs.repository.js";
import { describeSilence, silenceStatus } from "./webhook-silence.js";

type Queryable = Pick<pg.Pool, "query">;

export interface CompletenessSettings {
  /** CIO_APP_API_KEY is set. */
  appApi: boolean;
  reconcile: ReconcileConfig;
  /** WEBHOOK_SILENCE_MINUTES (0: not watched). */
  silenceMinutes: number;
}

export interface LastReconciliation {
  id: string;
  status: string;
  window_from: string;
  window_to: string;
  started_at: string;
  finished_at: string | null;
  messages_checked: number;
  deliveries_missing: number;
  metrics_missing: number;
  missing_by_metric: Record<string, number>;
  deliveries_created: number;
  metrics_added: number;
  /** Share of the App API's metrics that were missing here, in percent. */
  missing_percent: number;
  /** Above RECONCILE_ALERT_PERCENT: the run logged an error. */
  alert: boolean;
  cause: string | null;
  error: string | null;
}

export interface Completeness {
  webhooks: {
    last_received_at: string | null;
    watching_since: string;
    quiet_minutes: number;
    silence_minutes: number;
    /** No webhook for silence_minutes while deliveries are still being made. */
    silent: boolean;
    relayed_at: string | null;
    newest_message_at: string | null;
    /** What to do, when silent. */
    message: string | null;
  };
  reconciliation: {
    enabled: boolean;
    /** Why not, when off. */
    off_because: string | null;
    schedule: string;
    window_hours: number;
    delay_minutes: number;
    alert_percent: number;
    last_run: LastReconciliation | null;
  };
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function lastOf(run: RunRow, alertPercent: number): LastReconciliation {
  const reported = run.metrics_missing + run.metrics_present;
  const missingPercent = reported > 0 ? Math.round((10_000 * run.metrics_missing) / reported) / 100 : 0;
  return {
    id: run.id,
    status: run.status,
    window_from: run.window_from.toISOString(),
    window_to: run.window_to.toISOString(),
    started_at: run.started_at.toISOString(),
    finished_at: iso(run.finished_at),
    messages_checked: run.messages_read,
    deliveries_missing: run.deliveries_missing,
    metrics_missing: run.metrics_missing,
    missing_by_metric: run.missing_by_metric,
    deliveries_created: run.deliveries_created,
    metrics_added: run.metrics_added,
    missing_percent: missingPercent,
    alert: run.status === "done" && missingPercent > alertPercent,
    cause: run.cause,
    error: run.error,
  };
}

export async function completeness(db: Queryable, settings: CompletenessSettings): Promise<Completeness> {
  const [silence, run] = await Promise.all([silenceStatus(db, settings.silenceMinutes), lastRun(db, "reconcile")]);
  const enabled = settings.appApi && settings.reconcile.enabled;
  return {
    webhooks: {
      last_received_at: iso(silence.lastWebhookAt),
      watching_since: silence.watchingSince.toISOString(),
      quiet_minutes: Math.round(silence.quietMinutes),
      silence_minutes: settings.silenceMinutes,
      silent: silence.silent,
      relayed_at: iso(silence.relayedAt),
      newest_message_at: iso(silence.newestMessageAt),
      message: silence.silent ? describeSilence(silence) : null,
    },
    reconciliation: {
      enabled,
      off_because: enabled ? null : settings.appApi ? "RECONCILE_ENABLED is false" : "CIO_APP_API_KEY is not set",
      schedule: settings.reconcile.schedule,
      window_hours: settings.reconcile.windowHours,
      delay_minutes: settings.reconcile.delayMinutes,
      alert_percent: settings.reconcile.alertPercent,
      last_run: run ? lastOf(run, settings.reconcile.alertPercent) : null,
    },
  };
}
