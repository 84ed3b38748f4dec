// Owns writing events with group commit: the one write path of webhooks, relayed calls and
// unsubscribes. A write that arrives while nothing is in flight goes out at once (no timer, so a lone
// request pays no batching latency); writes that arrive while batches are in flight wait and go out
// together in the next batch: one statement, one commit, holding the events, their delivery and person
// rows, and their outbox and unsubscribes rows. Every caller is answered only after that commit. A batch
// of webhook events alone is stored and queued for the projector (projector.ts), which applies it to
// the delivery and person rows moments later; a batch with relayed calls or unsubscribes is applied at once.
import type pg from "pg";
import { unavailable } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import { batchParams, eventParams, hasSideRows, INGEST_ONE_QUEUED_SQL, INGEST_QUEUED_SQL, INGEST_SQL, INGEST_WITH_SIDE_ROWS_SQL, ingestParams, type Write } from "./projection.sql.js";
import { CLEARED_FIELDS, jsonText, type NormalizedEvent } from "./event.js";
import type { ErasedPeople } from "./erasures.js";
import { ensurePartitions, isMissingPartition } from "./partitions.js";
import { metrics } from "../core/metrics.js";

export type { OutboxEntry, UnsubscribeEntry, Write } from "./projection.sql.js";
/** Stored now, found already stored, or refused by its channel guard (Write.notForChannels). */
export type StoreOutcome = { status: "stored" } | { status: "duplicate" } | { status: "refused"; channel: string };

/** Where routes put events: the group-commit EventStore (benchmarks plug in others). */
export interface EventSink {
  store(write: Write): Promise<StoreOutcome>;
}

export interface EventStoreOptions {
  /** Most events in one statement. */
  maxBatch: number;
  /** Most statements running at once (each holds one pooled connection). */
  maxInFlight: number;
  /** Most writes waiting for a batch; past it a write is refused at once (503) instead of queued. */
  maxQueue: number;
}

/** Called when a batch holds an event whose month has no partition yet: create them, then the batch is retried. */
export type PartitionMaker = (times: number[]) => Promise<unknown>;

interface Pending {
  write: Write;
  resolve: (outcome: StoreOutcome) => void;
  reject: (err: Error) => void;
}

/** Whether PostgreSQL refused one row's data (SQLSTATE classes 22, 23, 54) rather than failed as a database: worth isolating. */
export const isDataError = (err: unknown) => ["22", "23", "54"].includes(((err as { code?: string }).code ?? "").slice(0, 2));

export class EventStore implements EventSink {
  private queue: Pending[] = [];
  private inFlight = 0;
  private idle: Array<() => void> = [];

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: EventStoreOptions,
    private readonly log: Logger,
    /** Scrubs events about people erased earlier (see erasures.ts). */
    private readonly erased?: Pick<ErasedPeople, "guard">,
    private readonly makePartitions: PartitionMaker = (times) => ensurePartitions(pool, times),
    /** Called after a commit that queued events for the projector. */
    private readonly onQueued: () => void = () => undefined,
  ) {}

  /** Resolves after the write is committed (or its event found already stored); rejects if it could not be. */
  store(write: Write): Promise<StoreOutcome> {
    if (this.queue.length >= this.options.maxQueue) {
      return Promise.reject(unavailable(`${this.queue.length} writes are already waiting to be committed (INGEST_MAX_QUEUE); retry shortly`, 1));
    }
    const guarded = this.erased ? { ...write, event: this.erased.guard(write.event) } : write;
    return new Promise((resolve, reject) => {
      const counted = (outcome: StoreOutcome) => {
        if (outcome.status === "stored") metrics.eventStored(guarded.event);
        resolve(outcome);
      };
      this.queue.push({ write: guarded, resolve: counted, reject });
      this.pump();
    });
  }

  /** Stores many writes, as one or more batches, resolving once all are committed. */
  storeMany(writes: readonly Write[]): Promise<StoreOutcome[]> {
    return Promise.all(writes.map((w) => this.store(w)));
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
      const committed = metrics.batchStarted(batch.length);
      void this.flush(batch).finally(() => {
        committed();
        this.inFlight--;
        this.pump();
        if (this.inFlight === 0 && this.queue.length === 0) for (const done of this.idle.splice(0)) done();
      });
    }
  }

  private async flush(batch: Pending[], partitionsMade = false): Promise<void> {
    try {
      const { inserted, refused, queued } = await writeBatch(this.pool, batch.map((p) => p.write), { queue: true });
      if (queued) this.onQueued();
      const claimed = new Set<string>();
      for (const p of batch) {
        const id = p.write.event.eventId;
        const channel = refused.get(id);
        if (channel !== undefined) {
          p.resolve({ status: "refused", channel });
          continue;
        }
        const isNew = inserted.has(id) && !claimed.has(id);
        if (isNew) claimed.add(id);
        p.resolve({ status: isNew ? "stored" : "duplicate" });
      }
    } catch (err) {
      if (isMissingPartition(err) && !partitionsMade) {
        // An event of a month with no partition yet (an old event, a backfill): make it, go again.
        try {
          const made = await this.makePartitions(batch.map((p) => p.write.event.occurredAt));
          this.log.info({ partitions: made }, "created partitions for events of new months");
        } catch (makeErr) {
          // Not the events' fault: "not now", and Customer.io retries.
          this.log.error({ err: makeErr }, "could not create partitions");
          for (const p of batch) p.reject(unavailable(`a partition for the event's month could not be created: ${(makeErr as Error).message}`));
          return;
        }
        await this.flush(batch, true);
        return;
      }
      const code = (err as { code?: string }).code ?? "";
      if (isDataError(err)) {
        if (batch.length > 1) {
          // One event's data broke the statement: retry them one by one so only that one is affected.
          this.log.warn({ err, batchSize: batch.length }, "batch failed on data; retrying its events one by one");
          await Promise.all(batch.map((p) => this.flush([p])));
          return;
        }
        const p = batch[0]!;
        if (!p.write.event.quarantined) {
          // PostgreSQL refused this event's content (e.g. JSON nested deeper than jsonb allows). A signed
          // event must never be refused for its content, or Customer.io's stream stalls behind it: store
          // it with the raw text kept as a JSON string instead.
          this.log.error({ err, eventId: p.write.event.eventId }, "event content refused by PostgreSQL; storing it quarantined");
          await this.flush([{ ...p, write: { ...p.write, event: quarantine(p.write.event, (err as Error).message) } }]);
          return;
        }
      }
      this.log.error({ err, code, batchSize: batch.length }, "storing events failed");
      for (const p of batch) p.reject(err as Error);
    }
  }
}

/**
 * The event with its payload replaced by `{"quarantined": {"reason", "raw"}}` (the raw text kept as a
 * JSON string) and every value that could break a constraint or an index dropped, so the second try
 * always succeeds. Replay projects it the same way.
 */
export function quarantine(event: NormalizedEvent, reason: string): NormalizedEvent {
  // Only what cannot break a constraint or an index is kept: the bounded keys, the metric and its time.
  return { ...event, ...CLEARED_FIELDS, quarantined: true, href: null, linkId: null, payload: jsonText({ quarantined: { reason: reason.slice(0, 500), raw: event.payload } }) };
}

/**
 * Stores writes in one statement (one commit) and returns the event_ids that were new, and those refused
 * by their channel guard with the delivery's channel. A write whose event_id repeats an earlier one in
 * the batch is dropped with what it carries (a retry can race its original). The statement itself
 * inserts in key order, so concurrent batches lock rows in the same order; the outbox rows keep the
 * order in which the writes arrived. With `queue`, a batch of events alone is queued for the projector
 * instead of applied (`queued` says so); writes with outbox or unsubscribes rows are always applied.
 */
export async function writeBatch(
  db: Pick<pg.Pool, "query"> | pg.PoolClient,
  batch: readonly Write[],
  options: { queue?: boolean } = {},
): Promise<{ inserted: Set<string>; refused: Map<string, string>; queued: boolean }> {
  const unique = new Map<string, Write>();
  for (const w of batch) if (!unique.has(w.event.eventId)) unique.set(w.event.eventId, w);
  const writes = [...unique.values()];
  const sideRows = hasSideRows(writes);
  const queue = !sideRows && options.queue === true;
  const result = await db.query<{ event_id: string; refused_channel: string | null }>(
    sideRows
      ? { name: "ingest-events-with-side-rows", text: INGEST_WITH_SIDE_ROWS_SQL, values: ingestParams(writes) }
      : queue
        ? writes.length === 1
          ? { name: "ingest-one-event-queued", text: INGEST_ONE_QUEUED_SQL, values: eventParams(writes[0]!.event) }
          : { name: "ingest-events-queued", text: INGEST_QUEUED_SQL, values: batchParams(writes.map((w) => w.event)) }
        : { name: "ingest-events", text: INGEST_SQL, values: batchParams(writes.map((w) => w.event)) },
  );
  const inserted = new Set<string>();
  const refused = new Map<string, string>();
  for (const r of result.rows) {
    if (r.refused_channel === null) inserted.add(r.event_id);
    else refused.set(r.event_id, r.refused_channel);
  }
  return { inserted, refused, queued: queue && inserted.size > 0 };
}
