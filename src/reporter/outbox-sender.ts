// Owns delivering the outbox to Customer.io: claim due rows a round at a time (urgent calls first, one
// call in flight per ordering key), send each (or a batch of push metrics) at the configured rate with
// bounded concurrency, keep the round's leases alive meanwhile, and record the outcome under the lease. Retryable failures back off
// exponentially with jitter (or as long as Retry-After says); permanent failures (400, 401, 404, ...)
// and exhausted attempts go to dead letters with the last status and answer kept.
import { createHash, randomUUID } from "node:crypto";
import os from "node:os";
import type pg from "pg";
import type { ReporterConfig } from "../core/config.js";
import type { Logger } from "../core/logger.js";
import { metrics } from "../core/metrics.js";
import { REPORT_DELIVERY_EVENT } from "../events/pipelines-event.js";
import { claim, customersOf, extendLeases, markDelivered, markFailed, release, type Failure, type OutboxRow } from "./outbox.repository.js";
import { MAX_FORWARD_BATCH_BYTES } from "./pipelines-body.js";
import type { PipelinesClient } from "./pipelines-client.js";
import type { PipelinesKeys } from "./pipelines-keys.repository.js";
import type { CdpCallPayload } from "./pipelines.service.js";
import { RateLimiter } from "./rate-limiter.js";
import { TrackError, type TrackClient, type V2DeliveryItem } from "./track-client.js";

type Job = {
  rows: OutboxRow[];
  /** The limit the request counts against (Track API or Data Pipelines API). */
  limiter: RateLimiter;
  send: () => Promise<{ status: number; failedIndexes?: Map<number, string> }>;
  /** A Data Pipelines batch: a 400 or 413 for it sends each of its calls alone next (only a bad one dies). */
  splitsOnReject?: boolean;
};

/** The Data Pipelines side of the sender: the client, the stored write keys, and our own write key. */
export interface PipelinesSending {
  client: Pick<PipelinesClient, "batch">;
  keys: Pick<PipelinesKeys, "lookup">;
  /** CIO_CDP_WRITE_KEY: what our own calls go with under REPORTER_TRANSPORT=pipelines. */
  ownWriteKey?: string;
}

/** What a round needs besides its rows: the write keys of its relayed calls, the people of its deliveries. */
interface RoundContext {
  keys: Map<string, string>;
  customers: Map<string, string>;
}

/** Statuses with which Customer.io refused a whole Data Pipelines batch for its content. */
const BATCH_REJECTED = new Set([400, 413]);

/**
 * The messageId of one of our own calls sent as a Data Pipelines call: derived from its outbox row (its
 * id and event), so a resend after a crash is the same event to Customer.io.
 */
export const ownMessageId = (row: Pick<OutboxRow, "id" | "event_id">) =>
  `cio-companion-outbox-${row.id}-${createHash("sha256").update(row.event_id ?? "").digest("hex").slice(0, 12)}`;

/** The anonymousId of a metric whose person we do not know (no webhook with its identifiers yet). */
export const anonymousIdFor = (deliveryId: string) => `cio-delivery-${deliveryId}`;

const iso = (unixSeconds: unknown, fallback: Date) =>
  typeof unixSeconds === "number" && Number.isFinite(unixSeconds) ? new Date(unixSeconds * 1000).toISOString() : fallback.toISOString();

/**
 * One of our own outbox rows as a Data Pipelines call: a relayed metric or push event becomes a "Report
 * Delivery Event" track (as the current mobile SDKs send it), an attribute update an identify call.
 */
export function ownPipelinesCall(row: OutboxRow, customerId: string | undefined): Record<string, unknown> {
  const p = row.payload;
  const messageId = ownMessageId(row);
  if (row.kind === "identify") {
    return { type: "identify", userId: String(p["customer_id"]), traits: p["attributes"] ?? {}, messageId, timestamp: row.created_at.toISOString() };
  }
  const deliveryId = String(p["delivery_id"]);
  const push = row.kind === "push_event";
  const properties: Record<string, unknown> = { deliveryId, metric: push ? p["event"] : p["metric"] };
  const recipient = push ? p["device_id"] : p["recipient"];
  if (typeof recipient === "string") properties["recipient"] = recipient;
  for (const f of ["href", "reason"]) if (typeof p[f] === "string") properties[f] = p[f];
  const person = customerId ? { userId: customerId } : { anonymousId: anonymousIdFor(deliveryId) };
  return { type: "track", event: REPORT_DELIVERY_EVENT, ...person, properties, messageId, timestamp: iso(p["timestamp"], row.created_at) };
}

/** Counts a job's rows by kind (a Data Pipelines batch of our own calls mixes kinds). */
function countRows(rows: readonly OutboxRow[], outcome: "delivered" | "retry" | "dead"): void {
  if (rows.length === 0) return;
  const byKind = new Map<string, number>();
  for (const r of rows) byKind.set(r.kind, (byKind.get(r.kind) ?? 0) + 1);
  for (const [kind, n] of byKind) metrics.outboxAttempted(kind, outcome, n);
}

export interface DrainResult {
  delivered: number;
  retried: number;
  dead: number;
}

export class OutboxSender {
  readonly id = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private limiter: RateLimiter;
  private cdpLimiter: RateLimiter;
  private running?: Promise<DrainResult>;
  private again = false;
  private stopping = false;
  private rounds = 0;
  /** Lease tokens of the rounds being worked on: their leases are kept alive. */
  private active = new Set<string>();
  private heartbeat?: NodeJS.Timeout;

  constructor(
    private readonly pool: pg.Pool,
    private readonly client: TrackClient,
    private readonly config: ReporterConfig,
    private readonly log: Logger,
    private readonly pipelines?: PipelinesSending,
  ) {
    this.limiter = new RateLimiter(pool, config.rateLimit);
    this.cdpLimiter = new RateLimiter(pool, config.pipelinesRateLimit, "customerio-cdp");
  }

  /** Whether our own metrics and attribute updates go to the Data Pipelines API. */
  private get ownToPipelines(): boolean {
    return this.config.transport === "pipelines" && Boolean(this.pipelines?.ownWriteKey);
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

  /** Stops claiming and starting calls; resolves when the calls in progress are recorded. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.running?.catch(() => undefined);
  }

  /** Rows are claimed a round at a time, each round under a lease token of its own. */
  private claimRound(limit: number): { token: string; rows: Promise<OutboxRow[]> } {
    const token = `${this.id}:${++this.rounds}`;
    this.active.add(token);
    const rows = claim(this.pool, limit, this.config.leaseSeconds, token);
    // A round claimed ahead may fail before it is awaited; Node would treat that as an unhandled
    // rejection and exit. Awaiting it below still throws.
    rows.catch(() => undefined);
    return { token, rows };
  }

  /**
   * Leases are kept alive while a round is worked on (a long Retry-After pause included), so another
   * instance never takes rows this one may still send. If this process dies, they run out.
   */
  private keepLeases(): void {
    if (this.heartbeat) return;
    const every = Math.max(1000, (this.config.leaseSeconds * 1000) / 3);
    this.heartbeat = setInterval(() => {
      extendLeases(this.pool, [...this.active], this.config.leaseSeconds).catch((err: unknown) => this.log.warn({ err: (err as Error).message }, "could not extend outbox leases"));
    }, every);
    this.heartbeat.unref();
  }

  private async drainLoop(): Promise<DrainResult> {
    const total: DrainResult = { delivered: 0, retried: 0, dead: 0 };
    const itemsPerJob = this.ownToPipelines ? this.config.pipelinesBatchSize : this.config.pushMode === "batch" ? this.config.batchSize : 1;
    // About a second of work per round, and never more than can be sent well within the lease. An
    // urgent call (an unsubscribe) queued now waits for the rows already claimed: one round at most.
    const jobs = Math.min(Math.max(this.config.concurrency * 2, this.config.rateLimit), Math.floor((this.config.rateLimit * this.config.leaseSeconds) / 4));
    const limit = Math.max(1, jobs * itemsPerJob);
    this.keepLeases();
    try {
      do {
        this.again = false;
        let round = this.claimRound(limit);
        while (!this.stopping) {
          const rows = await round.rows;
          if (rows.length === 0) {
            this.active.delete(round.token);
            break;
          }
          // The next round is claimed once every call of this one has started, so sending never
          // pauses between rounds and an urgent call waits behind one round at most.
          let next: ReturnType<OutboxSender["claimRound"]> | undefined;
          const result = await this.sendAll(rows, round.token, () => {
            if (!this.stopping) next = this.claimRound(limit);
          });
          this.active.delete(round.token);
          total.delivered += result.delivered;
          total.retried += result.retried;
          total.dead += result.dead;
          if (!next) break;
          round = next;
        }
        if (this.stopping) {
          // Rows claimed but not started go back at once, instead of waiting for their lease.
          const unsent = await round.rows.catch(() => [] as OutboxRow[]);
          await release(this.pool, unsent.map((r) => r.id), round.token).catch(() => undefined);
          this.active.delete(round.token);
        }
      } while (this.again && !this.stopping);
    } finally {
      if (this.active.size === 0 && this.heartbeat) {
        clearInterval(this.heartbeat);
        this.heartbeat = undefined;
      }
    }
    return total;
  }

  private async sendAll(rows: OutboxRow[], token: string, allStarted: () => void): Promise<DrainResult> {
    let context: RoundContext;
    try {
      context = await this.contextFor(rows);
    } catch (err) {
      // The database cannot answer now: give the rows back; the next drain tries again.
      this.log.warn({ err: (err as Error).message, rows: rows.length }, "could not prepare an outbox round");
      allStarted();
      await release(this.pool, rows.map((r) => r.id), token).catch(() => undefined);
      return { delivered: 0, retried: rows.length, dead: 0 };
    }
    const jobs = this.jobsFor(rows, context);
    const result: DrainResult = { delivered: 0, retried: 0, dead: 0 };
    let next = 0;
    let announced = false;
    const unstarted: string[] = [];
    const worker = async () => {
      while (next < jobs.length) {
        const job = jobs[next++]!;
        if (next === jobs.length && !announced) {
          announced = true;
          allStarted();
        }
        if (this.stopping) {
          unstarted.push(...job.rows.map((r) => r.id));
          continue;
        }
        const outcome = await this.run(job, token);
        result.delivered += outcome.delivered;
        result.retried += outcome.retried;
        result.dead += outcome.dead;
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.config.concurrency, jobs.length) }, worker));
    if (unstarted.length > 0) await release(this.pool, unstarted, token).catch(() => undefined);
    return result;
  }

  /** The write keys of the round's relayed Data Pipelines calls, and the people of its own metrics' deliveries. */
  private async contextFor(rows: OutboxRow[]): Promise<RoundContext> {
    const refs = [...new Set(rows.filter((r) => r.kind === "cdp_call").map((r) => String((r.payload as unknown as CdpCallPayload).source)))];
    const deliveries = this.ownToPipelines ? [...new Set(rows.filter((r) => r.kind === "metric" || r.kind === "push_event").map((r) => String(r.payload["delivery_id"])))] : [];
    const [keys, customers] = await Promise.all([
      refs.length > 0 && this.pipelines ? this.pipelines.keys.lookup(refs) : new Map<string, string>(),
      deliveries.length > 0 ? customersOf(this.pool, deliveries) : new Map<string, string>(),
    ]);
    return { keys, customers };
  }

  /**
   * Data Pipelines calls as /batch requests: grouped by write key, at most pipelinesBatchSize calls and
   * MAX_FORWARD_BATCH_BYTES each. A call whose last batch was refused (400, 413) goes alone.
   */
  private pipelinesJobs(groups: Map<string, Array<{ row: OutboxRow; call: Record<string, unknown> }>>, keyOf: (group: string) => string): Job[] {
    const jobs: Job[] = [];
    const client = this.pipelines!.client;
    const push = (writeKey: string, items: Array<{ row: OutboxRow; call: Record<string, unknown> }>) => {
      const calls = items.map((i) => i.call);
      jobs.push({ rows: items.map((i) => i.row), limiter: this.cdpLimiter, splitsOnReject: items.length > 1, send: () => client.batch(writeKey, calls) });
    };
    for (const [group, items] of groups) {
      const writeKey = keyOf(group);
      let chunk: typeof items = [];
      let bytes = '{"batch":[]}'.length;
      for (const item of items) {
        if (item.row.last_status !== null && BATCH_REJECTED.has(item.row.last_status)) {
          push(writeKey, [item]);
          continue;
        }
        const size = Buffer.byteLength(JSON.stringify(item.call)) + 1;
        if (chunk.length > 0 && (chunk.length >= this.config.pipelinesBatchSize || bytes + size > MAX_FORWARD_BATCH_BYTES)) {
          push(writeKey, chunk);
          chunk = [];
          bytes = '{"batch":[]}'.length;
        }
        chunk.push(item);
        bytes += size;
      }
      if (chunk.length > 0) push(writeKey, chunk);
    }
    return jobs;
  }

  /**
   * One request per row, except push metrics in batch mode (one /api/v2/batch per batchSize rows) and
   * Data Pipelines calls (relayed ones, and ours under REPORTER_TRANSPORT=pipelines): one /batch per
   * write key and pipelinesBatchSize calls.
   */
  private jobsFor(rows: OutboxRow[], context: RoundContext): Job[] {
    const jobs: Job[] = [];
    const batchable: OutboxRow[] = [];
    const relayed = new Map<string, Array<{ row: OutboxRow; call: Record<string, unknown> }>>();
    const own: Array<{ row: OutboxRow; call: Record<string, unknown> }> = [];
    const permanent = (row: OutboxRow, message: string) =>
      jobs.push({ rows: [row], limiter: this.limiter, send: () => Promise.reject(new TrackError(message, false)) });
    for (const row of rows) {
      const p = row.payload;
      if (row.kind === "cdp_call") {
        const { source, call } = p as unknown as CdpCallPayload;
        if (!this.pipelines) permanent(row, "no Data Pipelines client on this instance");
        else if (!context.keys.has(String(source))) permanent(row, `write key ${String(source)} is not stored (pipelines_write_keys): it cannot be forwarded`);
        else relayed.set(String(source), [...(relayed.get(String(source)) ?? []), { row, call }]);
      } else if (this.ownToPipelines && (row.kind === "metric" || row.kind === "push_event" || row.kind === "identify")) {
        own.push({ row, call: ownPipelinesCall(row, context.customers.get(String(p["delivery_id"]))) });
      } else if (row.kind === "push_event" && this.config.pushMode === "batch") batchable.push(row);
      else if (row.kind === "push_event" && this.config.pushMode === "push_events") {
        jobs.push({ rows: [row], limiter: this.limiter, send: () => this.client.trackPush(p as never) });
      } else if (row.kind === "push_event") {
        const { event, device_id: _device, ...rest } = p;
        jobs.push({ rows: [row], limiter: this.limiter, send: () => this.client.reportMetric({ ...rest, metric: event } as never) });
      } else if (row.kind === "metric") {
        jobs.push({ rows: [row], limiter: this.limiter, send: () => this.client.reportMetric(p as never) });
      } else if (row.kind === "unsubscribe") {
        jobs.push({ rows: [row], limiter: this.limiter, send: () => this.client.unsubscribe(String(p["delivery_id"]), p["unsubscribe"] !== false) });
      } else if (row.kind === "identify") {
        jobs.push({ rows: [row], limiter: this.limiter, send: () => this.client.identify(String(p["customer_id"]), p["attributes"] as Record<string, unknown>) });
      } else {
        permanent(row, `unknown outbox kind ${String(row.kind)}`);
      }
    }
    if (this.pipelines) {
      jobs.push(...this.pipelinesJobs(relayed, (source) => context.keys.get(source)!));
      if (own.length > 0) jobs.push(...this.pipelinesJobs(new Map([["own", own]]), () => this.pipelines!.ownWriteKey!));
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
        limiter: this.limiter,
        send: async () => {
          const errors = await this.client.batch(items);
          return { status: errors.length > 0 ? 207 : 200, failedIndexes: new Map(errors.map((e) => [e.batch_index, `${e.reason ?? "invalid"}: ${e.message ?? ""}`.trim()])) };
        },
      });
    }
    return jobs;
  }

  private async run(job: Job, token: string): Promise<DrainResult> {
    let res: Awaited<ReturnType<Job["send"]>>;
    try {
      await job.limiter.take(job.rows.map((r) => r.id), token);
      res = await job.send();
    } catch (err) {
      return this.recordFailure(job, token, err);
    }
    const failed = res.failedIndexes ?? new Map<number, string>();
    const delivered = job.rows.filter((_, i) => !failed.has(i));
    // A 207 names the items Customer.io rejected: those are permanent failures of their own rows.
    const rejected = job.rows.flatMap((r, i) => (failed.has(i) ? [{ id: r.id, dead: true, nextAttemptInMs: 0, status: 207, error: failed.get(i)! }] : []));
    try {
      const recorded = await markDelivered(this.pool, delivered.map((r) => r.id), res.status, token);
      if (recorded < delivered.length) this.log.warn({ rows: delivered.length - recorded }, "sent, but the lease had been taken over: another sender owns those rows now");
      await markFailed(this.pool, rejected, token);
    } catch (dbErr) {
      // Customer.io has the call; only our record of it failed. The lease runs out and the rows are
      // sent again (the at-least-once window), which is better than marking a success as a failure.
      this.log.error({ err: dbErr, rows: job.rows.length }, "sent to Customer.io but could not record it");
      return { delivered: 0, retried: job.rows.length, dead: 0 };
    }
    countRows(delivered, "delivered");
    countRows(job.rows.filter((_, i) => failed.has(i)), "dead");
    return { delivered: delivered.length, retried: 0, dead: rejected.length };
  }

  private async recordFailure(job: Job, token: string, err: unknown): Promise<DrainResult> {
    const e = err instanceof TrackError ? err : new TrackError((err as Error).message, true);
    if (e.status === 429) await job.limiter.pause(e.retryAfterMs ?? this.config.backoffBaseMs).catch(() => undefined);
    // A Data Pipelines batch refused for its content says nothing of which call was at fault: each is
    // sent alone next, at once, so only a bad one becomes a dead letter.
    const split = job.splitsOnReject === true && e.status !== undefined && BATCH_REJECTED.has(e.status);
    // `attempts` was counted when the request's slot was reserved: this one is included.
    const failures: Failure[] = job.rows.map((row) => {
      const attempts = row.attempts + 1;
      if (split) return { id: row.id, dead: false, nextAttemptInMs: 0, status: e.status ?? null, error: `${e.body ?? e.message} (the batch was refused; each of its calls is sent alone next)` };
      const dead = !e.retryable || attempts >= this.config.maxAttempts;
      return { id: row.id, dead, nextAttemptInMs: e.retryAfterMs ?? this.backoff(attempts), status: e.status ?? null, error: e.body ?? e.message };
    });
    try {
      await markFailed(this.pool, failures, token);
    } catch (dbErr) {
      // The lease will run out and the rows will be tried again: nothing is lost.
      this.log.error({ err: dbErr }, "could not record an outbox failure");
    }
    const dead = failures.filter((f) => f.dead).length;
    countRows(job.rows.filter((_, i) => failures[i]!.dead), "dead");
    countRows(job.rows.filter((_, i) => !failures[i]!.dead), "retry");
    this.log.warn({ kind: job.rows[0]!.kind, rows: job.rows.length, status: e.status, retryable: e.retryable, dead }, `Customer.io call failed: ${e.message.slice(0, 200)}`);
    return { delivered: 0, retried: failures.length - dead, dead };
  }

  /** Exponential backoff with full jitter: base * 2^(attempts-1), capped, times a random 0.5..1. */
  private backoff(attempts: number): number {
    const exp = Math.min(this.config.backoffMaxMs, this.config.backoffBaseMs * 2 ** Math.max(0, attempts - 1));
    return Math.round(exp * (0.5 + Math.random() * 0.5));
  }
}
