// Owns delivering the outbox to Customer.io: claim due rows, send each (or a batch of push metrics) at
// the configured rate with bounded concurrency, and record the outcome. Retryable failures back off
// exponentially with jitter (or as long as Retry-After says); permanent failures (400, 401, 404, ...)
// and exhausted attempts go to dead letters with the last status and answer kept.
import { randomUUID } from "node:crypto";
import os from "node:os";
import type pg from "pg";
import type { ReporterConfig } from "../core/config.js";
import type { Logger } from "../core/logger.js";
import { claim, markDelivered, markFailed, release, type Failure, type OutboxRow } from "./outbox.repository.js";
import { RateLimiter } from "./rate-limiter.js";
import { TrackError, type TrackClient, type V2DeliveryItem } from "./track-client.js";

type Job = { rows: OutboxRow[]; send: () => Promise<{ status: number; failedIndexes?: Map<number, string> }> };

export interface DrainResult {
  delivered: number;
  retried: number;
  dead: number;
}

export class OutboxSender {
  readonly id = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private limiter: RateLimiter;
  private running?: Promise<DrainResult>;
  private again = false;
  private stopping = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly client: TrackClient,
    private readonly config: ReporterConfig,
    private readonly log: Logger,
  ) {
    this.limiter = new RateLimiter(pool, config.rateLimit);
  }

  /** Starts a drain unless one is running, in which case that one goes round once more. */
  kick(): void {
    void this.drain().catch((err: unknown) => this.log.error({ err }, "outbox drain failed"));
  }

  /** Sends everything due, then resolves. Concurrent calls share one drain. */
  drain(): Promise<DrainResult> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.drainLoop().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Stops claiming; resolves when the sends in progress are recorded. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.running?.catch(() => undefined);
  }

  private async drainLoop(): Promise<DrainResult> {
    const total: DrainResult = { delivered: 0, retried: 0, dead: 0 };
    const itemsPerJob = this.config.pushMode === "batch" ? this.config.batchSize : 1;
    // About a second of work per claim, and never more than can be sent well within the lease.
    const jobs = Math.min(Math.max(this.config.concurrency * 2, this.config.rateLimit), Math.floor((this.config.rateLimit * this.config.leaseSeconds) / 4));
    const limit = Math.max(1, jobs * itemsPerJob);
    const claimNext = () => {
      const claimed = claim(this.pool, limit, this.config.leaseSeconds, this.id);
      // A prefetched claim may fail before it is awaited; Node would treat that as an unhandled
      // rejection and exit. Awaiting it below still throws.
      claimed.catch(() => undefined);
      return claimed;
    };
    do {
      this.again = false;
      let next = claimNext();
      while (!this.stopping) {
        const rows = await next;
        if (rows.length === 0) break;
        // Claim the next round while this one is sent, so the sending never pauses between rounds.
        next = claimNext();
        const result = await this.sendAll(rows);
        total.delivered += result.delivered;
        total.retried += result.retried;
        total.dead += result.dead;
      }
      if (this.stopping) {
        const unsent = await next.catch(() => [] as OutboxRow[]);
        await release(this.pool, unsent.map((r) => r.id)).catch(() => undefined); // else they wait for their lease
      }
    } while (this.again && !this.stopping);
    return total;
  }

  private async sendAll(rows: OutboxRow[]): Promise<DrainResult> {
    const jobs = this.jobsFor(rows);
    const result: DrainResult = { delivered: 0, retried: 0, dead: 0 };
    let next = 0;
    const worker = async () => {
      while (next < jobs.length) {
        const job = jobs[next++]!;
        const outcome = await this.run(job);
        result.delivered += outcome.delivered;
        result.retried += outcome.retried;
        result.dead += outcome.dead;
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.config.concurrency, jobs.length) }, worker));
    return result;
  }

  /** One request per row, except push metrics in batch mode: one /api/v2/batch per batchSize rows. */
  private jobsFor(rows: OutboxRow[]): Job[] {
    const jobs: Job[] = [];
    const batchable: OutboxRow[] = [];
    for (const row of rows) {
      const p = row.payload;
      if (row.kind === "push_event" && this.config.pushMode === "batch") batchable.push(row);
      else if (row.kind === "push_event" && this.config.pushMode === "push_events") {
        jobs.push({ rows: [row], send: () => this.client.trackPush(p as never) });
      } else if (row.kind === "push_event") {
        const { event, device_id: _device, ...rest } = p;
        jobs.push({ rows: [row], send: () => this.client.reportMetric({ ...rest, metric: event } as never) });
      } else if (row.kind === "metric") {
        jobs.push({ rows: [row], send: () => this.client.reportMetric(p as never) });
      } else if (row.kind === "unsubscribe") {
        jobs.push({ rows: [row], send: () => this.client.unsubscribe(String(p["delivery_id"]), p["unsubscribe"] !== false) });
      } else if (row.kind === "identify") {
        jobs.push({ rows: [row], send: () => this.client.identify(String(p["customer_id"]), p["attributes"] as Record<string, unknown>) });
      } else {
        jobs.push({ rows: [row], send: () => Promise.reject(new TrackError(`unknown outbox kind ${String(row.kind)}`, false)) });
      }
    }
    for (let i = 0; i < batchable.length; i += this.config.batchSize) {
      const chunk = batchable.slice(i, i + this.config.batchSize);
      const items: V2DeliveryItem[] = chunk.map((row) => ({
        type: "delivery",
        action: "event",
        identifiers: { id: String(row.payload["delivery_id"]) },
        name: row.payload["event"] as V2DeliveryItem["name"],
        timestamp: row.payload["timestamp"] as number,
        attributes: { device_token: String(row.payload["device_id"]) },
      }));
      jobs.push({
        rows: chunk,
        send: async () => {
          const errors = await this.client.batch(items);
          return { status: errors.length > 0 ? 207 : 200, failedIndexes: new Map(errors.map((e) => [e.batch_index, `${e.reason ?? "invalid"}: ${e.message ?? ""}`.trim()])) };
        },
      });
    }
    return jobs;
  }

  private async run(job: Job): Promise<DrainResult> {
    let res: Awaited<ReturnType<Job["send"]>>;
    try {
      await this.limiter.take();
      res = await job.send();
    } catch (err) {
      return this.recordFailure(job, err);
    }
    const failed = res.failedIndexes ?? new Map<number, string>();
    const delivered = job.rows.filter((_, i) => !failed.has(i));
    // A 207 names the items Customer.io rejected: those are permanent failures of their own rows.
    const rejected = job.rows.flatMap((r, i) => (failed.has(i) ? [{ id: r.id, dead: true, nextAttemptInMs: 0, status: 207, error: failed.get(i)! }] : []));
    try {
      await markDelivered(this.pool, delivered.map((r) => r.id), res.status);
      await markFailed(this.pool, rejected);
    } catch (dbErr) {
      // Customer.io has the call; only our record of it failed. The lease runs out and the rows are
      // sent again (the at-least-once window), which is better than marking a success as a failure.
      this.log.error({ err: dbErr, rows: job.rows.length }, "sent to Customer.io but could not record it");
      return { delivered: 0, retried: job.rows.length, dead: 0 };
    }
    return { delivered: delivered.length, retried: 0, dead: rejected.length };
  }

  private async recordFailure(job: Job, err: unknown): Promise<DrainResult> {
    const e = err instanceof TrackError ? err : new TrackError((err as Error).message, true);
    if (e.status === 429) await this.limiter.pause(e.retryAfterMs ?? this.config.backoffBaseMs).catch(() => undefined);
    const failures: Failure[] = job.rows.map((row) => {
      const dead = !e.retryable || row.attempts >= this.config.maxAttempts;
      return { id: row.id, dead, nextAttemptInMs: e.retryAfterMs ?? this.backoff(row.attempts), status: e.status ?? null, error: e.body ?? e.message };
    });
    try {
      await markFailed(this.pool, failures);
    } catch (dbErr) {
      // The lease will run out and the rows will be tried again: nothing is lost.
      this.log.error({ err: dbErr }, "could not record an outbox failure");
    }
    const dead = failures.filter((f) => f.dead).length;
    this.log.warn({ kind: job.rows[0]!.kind, rows: job.rows.length, status: e.status, retryable: e.retryable, dead }, `Customer.io call failed: ${e.message.slice(0, 200)}`);
    return { delivered: 0, retried: failures.length - dead, dead };
  }

  /** Exponential backoff with full jitter: base * 2^(attempts-1), capped, times a random 0.5..1. */
  private backoff(attempts: number): number {
    const exp = Math.min(this.config.backoffMaxMs, this.config.backoffBaseMs * 2 ** Math.max(0, attempts - 1));
    return Math.round(exp * (0.5 + Math.random() * 0.5));
  }
}
