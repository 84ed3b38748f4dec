// Owns writing events with group commit. A request that arrives while nothing is in flight is written
// at once (no timer, so a lone request pays no batching latency); requests that arrive while batches
// are in flight wait and go out together in the next batch: one statement, one commit. Every caller is
// answered only after the commit that holds its event.
import type pg from "pg";
import type { Logger } from "../core/logger.js";
import type { NormalizedEvent } from "./event.js";
import { batchParams, INGEST_SQL } from "./projection.sql.js";

export type StoreOutcome = "stored" | "duplicate";

/** Where the webhook route puts events: the group-commit EventStore (benchmarks plug in others). */
export interface EventSink {
  store(event: NormalizedEvent): Promise<StoreOutcome>;
}

export interface EventStoreOptions {
  /** Most events in one statement. */
  maxBatch: number;
  /** Most statements running at once (each holds one pooled connection). */
  maxInFlight: number;
}

interface Pending {
  event: NormalizedEvent;
  resolve: (outcome: StoreOutcome) => void;
  reject: (err: Error) => void;
}

export class StoreUnavailableError extends Error {
  constructor(cause: unknown) {
    super(`database unavailable: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = "StoreUnavailableError";
  }
}

// SQLSTATE classes that point at one row's data rather than at the database: worth isolating.
const DATA_ERROR_CLASSES = ["22", "23", "54"];

export class EventStore implements EventSink {
  private queue: Pending[] = [];
  private inFlight = 0;
  private idle: Array<() => void> = [];

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: EventStoreOptions,
    private readonly log: Logger,
  ) {}

  /** Resolves after the event is committed (or found already stored); rejects if it could not be. */
  store(event: NormalizedEvent): Promise<StoreOutcome> {
    return new Promise((resolve, reject) => {
      this.queue.push({ event, resolve, reject });
      this.pump();
    });
  }

  /** Stores many events, as one or more batches, resolving once all are committed. */
  storeMany(events: readonly NormalizedEvent[]): Promise<StoreOutcome[]> {
    return Promise.all(events.map((e) => this.store(e)));
  }

  /** Resolves when nothing is queued or in flight (graceful shutdown). */
  drained(): Promise<void> {
    if (this.inFlight === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private pump(): void {
    while (this.inFlight < this.options.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      this.inFlight++;
      void this.flush(batch).finally(() => {
        this.inFlight--;
        this.pump();
        if (this.inFlight === 0 && this.queue.length === 0) for (const done of this.idle.splice(0)) done();
      });
    }
  }

  private async flush(batch: Pending[]): Promise<void> {
    try {
      const inserted = await writeBatch(this.pool, batch.map((p) => p.event));
      const claimed = new Set<string>();
      for (const p of batch) {
        const id = p.event.eventId;
        const isNew = inserted.has(id) && !claimed.has(id);
        if (isNew) claimed.add(id);
        p.resolve(isNew ? "stored" : "duplicate");
      }
    } catch (err) {
      const code = (err as { code?: string }).code ?? "";
      if (DATA_ERROR_CLASSES.includes(code.slice(0, 2))) {
        if (batch.length > 1) {
          // One event's data broke the statement: retry them one by one so only that one is affected.
          this.log.warn({ err, batchSize: batch.length }, "batch failed on data; retrying its events one by one");
          await Promise.all(batch.map((p) => this.flush([p])));
          return;
        }
        const p = batch[0]!;
        if (!p.event.quarantined) {
          // PostgreSQL refused this event's content (e.g. JSON nested deeper than jsonb allows). A signed
          // event must never be refused for its content, or Customer.io's stream stalls behind it: store
          // it with the raw text kept as a JSON string instead.
          this.log.error({ err, eventId: p.event.eventId }, "event content refused by PostgreSQL; storing it quarantined");
          await this.flush([{ ...p, event: quarantine(p.event, (err as Error).message) }]);
          return;
        }
      }
      this.log.error({ err, code, batchSize: batch.length }, "storing events failed");
      const failure = new StoreUnavailableError(err);
      for (const p of batch) p.reject(failure);
    }
  }
}

/** The event with its payload replaced by `{"quarantined": {"reason", "raw"}}` and nested fields dropped. */
export function quarantine(event: NormalizedEvent, reason: string): NormalizedEvent {
  return {
    ...event,
    quarantined: true,
    identifiers: null,
    preferences: null,
    payload: JSON.stringify({ quarantined: { reason, raw: event.payload } }),
  };
}

/**
 * Stores events in one statement (one commit) and returns the event_ids that were new. Duplicate ids
 * are written once (a retry can race its original), and rows are sorted so concurrent batches lock in
 * the same order.
 */
export async function writeBatch(pool: Pick<pg.Pool, "query"> | pg.PoolClient, batch: readonly NormalizedEvent[]): Promise<Set<string>> {
  const unique = new Map<string, NormalizedEvent>();
  for (const e of batch) if (!unique.has(e.eventId)) unique.set(e.eventId, e);
  const events = [...unique.values()].sort((a, b) => (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0));
  const result = await pool.query<{ event_id: string }>({ name: "ingest-events", text: INGEST_SQL, values: batchParams(events) });
  return new Set(result.rows.map((r) => r.event_id));
}
