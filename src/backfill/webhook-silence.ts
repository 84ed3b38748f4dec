// Owns noticing that reporting webhooks stopped: when one last arrived (webhook_heartbeat, written at
// most once a minute per instance, after the webhook's answer is decided, never on its path), and
// whether deliveries are still being made meanwhile, as far as this service can see without webhooks:
// a relayed metric (your app reporting on a message Customer.io sent; Customer.io echoes it back as a
// webhook when the webhook is on), or a message the last reconciliation read in the App API. Silence
// alone is not reported: a quiet workspace sends nothing.
import type pg from "pg";
import type { Logger } from "../core/logger.js";
import { metrics } from "../core/metrics.js";

type Queryable = Pick<pg.Pool, "query">;

/** Records webhook arrivals: the first at once, then at most once every `everyMs` (per instance). */
export class WebhookHeartbeat {
  private writtenAt = 0;
  private writing = false;

  constructor(
    private readonly pool: Queryable,
    private readonly log: Logger,
    private readonly everyMs = 60_000,
  ) {}

  /** A signed webhook was taken: note it, without waiting for it. */
  seen(): void {
    const now = Date.now();
    if (this.writing || now - this.writtenAt < this.everyMs) return;
    this.writing = true;
    this.writtenAt = now;
    this.pool
      .query(
        `INSERT INTO webhook_heartbeat (id, last_received_at) VALUES (1, now())
         ON CONFLICT (id) DO UPDATE SET last_received_at = GREATEST(webhook_heartbeat.last_received_at, EXCLUDED.last_received_at)`,
      )
      .catch((err: unknown) => {
        this.writtenAt = 0; // try again with the next webhook
        this.log.debug({ err: (err as Error).message }, "webhook heartbeat not recorded");
      })
      .finally(() => {
        this.writing = false;
      });
  }
}

export interface SilenceStatus {
  /** Minutes of silence that count (WEBHOOK_SILENCE_MINUTES); 0: not watched. */
  thresholdMinutes: number;
  lastWebhookAt: Date | null;
  /** Arrivals are recorded since then (the upgrade or install that added the record). */
  watchingSince: Date;
  /** Minutes since the last webhook (or since watching began, when none came). */
  quietMinutes: number;
  /** The latest relayed metric and the newest message the last reconciliation read, after the last webhook. */
  relayedAt: Date | null;
  newestMessageAt: Date | null;
  /** Quiet for at least the threshold, while deliveries are still being made. */
  silent: boolean;
}

/** Where webhooks stand now (one short query, database time). */
export async function silenceStatus(db: Queryable, thresholdMinutes: number): Promise<SilenceStatus> {
  const { rows } = await db.query<{ last_received_at: Date | null; watching_since: Date; quiet_minutes: number; relayed_at: Date | null; newest_message_at: Date | null }>(
    `WITH beat AS (
       SELECT last_received_at, watching_since FROM webhook_heartbeat WHERE id = 1
       UNION ALL SELECT NULL, now() WHERE NOT EXISTS (SELECT 1 FROM webhook_heartbeat WHERE id = 1)
     )
     SELECT last_received_at, watching_since,
       extract(epoch FROM now() - coalesce(last_received_at, watching_since)) / 60 AS quiet_minutes,
       (SELECT created_at FROM outbox WHERE kind IN ('metric', 'push_event') ORDER BY id DESC LIMIT 1) AS relayed_at,
       (SELECT newest_message_at FROM backfill_runs WHERE kind = 'reconcile' AND status = 'done' ORDER BY id DESC LIMIT 1) AS newest_message_at
     FROM beat`,
  );
  const r = rows[0]!;
  const since = (r.last_received_at ?? r.watching_since).getTime();
  const after = (d: Date | null) => (d !== null && d.getTime() > since ? d : null);
  const [relayedAt, newestMessageAt] = [after(r.relayed_at), after(r.newest_message_at)];
  const quietMinutes = Number(r.quiet_minutes);
  return {
    thresholdMinutes,
    lastWebhookAt: r.last_received_at,
    watchingSince: r.watching_since,
    quietMinutes,
    relayedAt,
    newestMessageAt,
    silent: thresholdMinutes > 0 && quietMinutes >= thresholdMinutes && (relayedAt !== null || newestMessageAt !== null),
  };
}

/** What the silence means, for a person: one sentence. */
export function describeSilence(s: SilenceStatus): string {
  const since = s.lastWebhookAt ? `since ${s.lastWebhookAt.toISOString().slice(0, 16).replace("T", " ")} UTC` : `since ${s.watchingSince.toISOString().slice(0, 16).replace("T", " ")} UTC (none has arrived yet)`;
  const evidence = [
    s.relayedAt ? `your app relayed metrics as late as ${s.relayedAt.toISOString().slice(0, 16).replace("T", " ")} UTC` : null,
    s.newestMessageAt ? `Customer.io's App API lists messages sent as late as ${s.newestMessageAt.toISOString().slice(0, 16).replace("T", " ")} UTC` : null,
  ].filter((x) => x !== null);
  return `No reporting webhooks ${since}, while deliveries are still being made (${evidence.join("; ")}): check the webhook in Customer.io (Data & Integrations > Reporting Webhooks): is it on, does it point at this service, are its events ticked?`;
}

/**
 * Checks for silence and logs an error about it at most once per WEBHOOK_SILENCE_MINUTES, for all
 * instances together (the row remembers when it was last reported). Returns the status.
 */
export async function checkSilence(db: Queryable, thresholdMinutes: number, log: Logger): Promise<SilenceStatus | null> {
  if (thresholdMinutes <= 0) return null;
  const status = await silenceStatus(db, thresholdMinutes);
  metrics.silenceChecked(status.silent);
  if (!status.silent) return status;
  const claimed = await db.query(
    `UPDATE webhook_heartbeat SET silence_reported_at = now()
     WHERE id = 1 AND (silence_reported_at IS NULL OR silence_reported_at <= now() - make_interval(mins => $1))`,
    [thresholdMinutes],
  );
  if ((claimed.rowCount ?? 0) > 0) {
    log.error(
      { lastWebhookAt: status.lastWebhookAt, quietMinutes: Math.round(status.quietMinutes), relayedAt: status.relayedAt, newestMessageAt: status.newestMessageAt },
      describeSilence(status),
    );
  }
  return status;
}
