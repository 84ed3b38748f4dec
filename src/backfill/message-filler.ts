// Owns one pass over the App API's messages of a time range, for a backfill or a reconciliation: read
// the pages (windows of a few days, several at once, each cursor by cursor), compare each message's metrics with its
// delivery row, and write an event for every metric the row does not have yet, through the event core's
// one write path (writeBatch: events, deliveries and the report rollup in one statement), in one
// transaction per page with the run's counts and checkpoint. So an interrupted pass goes on from the
// page after the last committed one, and a second pass over the same range finds everything present.
//
// Reading and writing overlap: the next page is fetched while the current one is written, and a few
// windows are read at once (a cursor's next page needs its previous one, so one window alone reads at
// most one page per round trip), so the pass goes as fast as the App API's limit lets it read (10
// requests/s of 1000 messages) when the database keeps up.
import type pg from "pg";
import { checkout } from "../core/database.js";
import type { Logger } from "../core/logger.js";
import { backfillPayload, erasedBackfill, messageDeliveryId, messageMetrics, normalizeBackfill, type MessageMetric } from "../events/backfill-event.js";
import type { ErasedPeople } from "../events/erasures.js";
import { writeBatch, type Write } from "../events/event-store.js";
import type { JsonObject } from "../events/event.js";
import { ensurePartitions, isMissingPartition, monthStart } from "../events/partitions.js";
import { AppApiError, MAX_PAGE_SIZE, type AppApiClient, type AppMessage, type MessagesPage } from "./app-api-client.js";
import { addCounts, emptyCounts, recordPage, type Checkpoint, type RunCounts, type WindowStep } from "./backfill-runs.repository.js";

const DAY_MS = 86_400_000;
// Deadlocks cannot happen between ingest statements (rows are locked in key order); these are retried
// anyway, as a serialization failure would be, rather than failing a long backfill.
const RETRYABLE = new Set(["40001", "40P01"]);

/** The *_at column that says a delivery already has this metric; null: the row itself is enough. */
export function presenceColumn(m: Pick<MessageMetric, "metric" | "machine">): string | null {
  if (m.metric === null) return null;
  if (m.metric === "opened") return m.machine ? "opened_at" : "human_opened_at";
  if (m.metric === "clicked") return m.machine ? "clicked_at" : "human_clicked_at";
  return `${m.metric}_at`;
}

/** A pass's windows: [from, to) cut into pieces of at most `days` days (the App API takes at most 6 months). */
export function windowsOf(from: number, to: number, days: number): Array<{ start: number; end: number }> {
  const out: Array<{ start: number; end: number }> = [];
  for (let start = from; start < to; start += days * DAY_MS) out.push({ start, end: Math.min(to, start + days * DAY_MS) });
  return out;
}

/**
 * Days per window when none is asked for: at most 7, and short enough that every reader has a window of
 * its own (a range of 10 days is 4 windows of 2.5 days), in whole hours.
 */
export function windowDaysFor(from: number, to: number, readers: number): number {
  const hours = Math.ceil((to - from) / 3_600_000 / Math.max(1, readers));
  return Math.min(7, Math.max(1, hours) / 24);
}

export interface FillProgress {
  /** Windows read to their end, of all. */
  windowsDone: number;
  windows: number;
  /** Of the whole range, 0 to 1 (by the `created` times read in the windows being read). */
  fraction: number;
  counts: RunCounts;
  elapsedMs: number;
}

export interface FillRequest {
  from: number;
  to: number;
  type?: string | null;
  dryRun?: boolean;
  /** Records counts and checkpoints in this backfill_runs row (none for a dry run). */
  runId?: string | null;
  /** Where to go on from (a resumed run). */
  checkpoint?: Checkpoint | null;
  pageSize?: number;
  /** Days per window (default: windowDaysFor; a resumed run keeps its own). */
  windowDays?: number;
  /** Windows read at once (default 4): a cursor's next page needs its previous one, so one window alone reads at most one page per round trip. */
  readers?: number;
  signal?: AbortSignal;
  onProgress?: (p: FillProgress) => void;
}

/** Per-metric and per-hour tallies of one pass: what reconciliation reads a likely cause from. */
export interface GapShape {
  /** Among deliveries that had a row: metrics missing and present, by webhook name. */
  missingInKnown: Record<string, number>;
  presentInKnown: Record<string, number>;
  /** By hour of `created` (ms of the hour's start): messages, and those with no delivery row. */
  hours: Map<number, { messages: number; missing: number }>;
}

export interface FillResult {
  counts: RunCounts;
  shape: GapShape;
  /** Stopped by the signal before the end of the range. */
  interrupted: boolean;
  /** Where it stopped (null once the range is done). */
  checkpoint: Checkpoint | null;
  elapsedMs: number;
}

const DELIVERY_COLUMNS = [
  "drafted_at", "attempted_at", "sent_at", "deferred_at", "delivered_at", "opened_at", "human_opened_at", "clicked_at", "human_clicked_at",
  "replied_at", "converted_at", "dropped_at", "undeliverable_at", "failed_at", "bounced_at", "unsubscribed_at", "spammed_at",
];

export class MessageFiller {
  private knownMonths = new Set<number>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly api: AppApiClient,
    /** Events of people erased earlier are stored without personal data, as ingestion stores them. */
    private readonly erasures: Pick<ErasedPeople, "guard" | "refresh">,
    private readonly log: Logger,
  ) {}

  async fill(req: FillRequest): Promise<FillResult> {
    const started = Date.now();
    const pageSize = Math.min(req.pageSize ?? MAX_PAGE_SIZE, MAX_PAGE_SIZE);
    const readers = req.readers ?? 4;
    const checkpoint: Checkpoint = req.checkpoint
      ? { window_days: req.checkpoint.window_days, done: [...req.checkpoint.done], cursors: { ...req.checkpoint.cursors } }
      : { window_days: req.windowDays ?? windowDaysFor(req.from, req.to, readers), done: [], cursors: {} };
    const windows = windowsOf(req.from, req.to, checkpoint.window_days);
    const key = (w: { start: number }) => String(w.start / 1000);
    const todo = windows.filter((w) => !checkpoint.done.includes(w.start / 1000));
    const counts = emptyCounts();
    const shape: GapShape = { missingInKnown: {}, presentInKnown: {}, hours: new Map() };
    await this.erasures.refresh();

    // A few workers, each reading a window at a time, page after page, and writing each page while the
    // next one is read. A window is only ever read and written by one worker, in order, and each page's
    // transaction moves that window's entry of the checkpoint, so the checkpoint never runs ahead of
    // what is committed.
    const stop = new AbortController();
    const signal = req.signal ? AbortSignal.any([req.signal, stop.signal]) : stop.signal;
    let failure: unknown;
    const oldest = new Map<string, number>();
    const fraction = () => {
      let part = checkpoint.done.length;
      for (const w of windows) {
        const seen = oldest.get(key(w));
        if (seen !== undefined && !checkpoint.done.includes(w.start / 1000)) part += Math.min(1, Math.max(0, (w.end - seen) / (w.end - w.start)));
      }
      return windows.length ? part / windows.length : 1;
    };
    const fetch = (window: { start: number; end: number }, cursor: string | null) => {
      const page = this.read(window, pageSize, req.type ?? undefined, cursor, signal);
      page.catch(() => undefined); // awaited below; a stop meanwhile must not be an unhandled rejection
      return page;
    };
    let next = 0;
    const work = async () => {
      while (!signal.aborted && next < todo.length) {
        const window = todo[next++]!;
        let reading: Promise<MessagesPage> | null = fetch(window, checkpoint.cursors[key(window)] ?? null);
        while (reading) {
          let page: MessagesPage;
          try {
            page = await reading;
          } catch (err) {
            if (signal.aborted) return;
            throw err;
          }
          reading = page.next !== null && !signal.aborted ? fetch(window, page.next) : null;
          const step: WindowStep = { window: window.start / 1000, cursor: page.next };
          const part = await this.applyPage(page.messages, shape, req.dryRun ?? false, req.runId ?? null, checkpoint.window_days, step);
          if (page.next === null) {
            checkpoint.done.push(step.window);
            delete checkpoint.cursors[key(window)];
          } else checkpoint.cursors[key(window)] = page.next;
          addCounts(counts, part);
          for (const m of page.messages) {
            // Pages come newest first: a window is read from its end down to its oldest message so far.
            if (typeof m["created"] === "number") oldest.set(key(window), Math.min(oldest.get(key(window)) ?? Infinity, m["created"] * 1000));
          }
          req.onProgress?.({ windowsDone: checkpoint.done.length, windows: windows.length, fraction: fraction(), counts, elapsedMs: Date.now() - started });
          if (signal.aborted) return;
        }
      }
    };
    const workers = Math.max(1, Math.min(readers, todo.length));
    await Promise.all(
      Array.from({ length: workers }, () =>
        work().catch((err: unknown) => {
          failure ??= err;
          stop.abort();
        }),
      ),
    );
    if (failure) throw failure;
    const finished = checkpoint.done.length === windows.length;
    return { counts, shape, interrupted: !finished, checkpoint: finished ? null : checkpoint, elapsedMs: Date.now() - started };
  }

  /** One page of the window; a cursor the API no longer takes (a long interruption) restarts the window. */
  private async read(bounds: { start: number; end: number }, limit: number, type: string | undefined, cursor: string | null, signal: AbortSignal): Promise<MessagesPage> {
    const query = { startTs: Math.floor(bounds.start / 1000), endTs: Math.floor(bounds.end / 1000), limit, type, start: cursor };
    try {
      return await this.api.listMessages(query, signal);
    } catch (err) {
      if (cursor && err instanceof AppApiError && (err.status === 400 || err.status === 404 || err.status === 410)) {
        this.log.warn({ status: err.status }, "the App API no longer takes the saved cursor; reading the window again from its start (nothing is stored twice)");
        return this.api.listMessages({ ...query, start: null }, signal);
      }
      throw err;
    }
  }

  /** Compares a page with the delivery rows and writes what is missing, with the run's counts and checkpoint. */
  private async applyPage(messages: AppMessage[], shape: GapShape, dryRun: boolean, runId: string | null, windowDays: number, step: WindowStep): Promise<RunCounts> {
    const counts = emptyCounts();
    counts.messagesRead = messages.length;
    const items = messages.map((m) => ({ message: m as JsonObject, deliveryId: messageDeliveryId(m as JsonObject), metrics: messageMetrics(m as JsonObject) }));
    const ids = [...new Set(items.map((i) => i.deliveryId).filter((id): id is string => id !== null))];
    const existing = new Map<string, Record<string, unknown>>();
    if (ids.length > 0) {
      const { rows } = await this.pool.query<Record<string, unknown> & { delivery_id: string }>(
        `SELECT delivery_id, ${DELIVERY_COLUMNS.join(", ")} FROM deliveries WHERE delivery_id = ANY($1)`,
        [ids],
      );
      for (const r of rows) existing.set(r.delivery_id, r);
    }
    const receivedAt = Date.now();
    const writes: Write[] = [];
    const missingDeliveries = new Set<string>();
    const metricEvents = new Set<string>();
    const seen = new Set<string>();
    const withoutId = items.filter((i) => i.deliveryId === null).length;
    if (withoutId > 0) this.log.warn({ messages: withoutId }, "App API messages without an id were skipped: there is no delivery to fill");
    for (const { message, deliveryId, metrics } of items) {
      const created = typeof message["created"] === "number" ? message["created"] * 1000 : null;
      if (created !== null) counts.newestMessageAt = Math.max(counts.newestMessageAt ?? 0, created);
      if (deliveryId === null || seen.has(deliveryId)) continue; // no id to key it by; or listed twice
      seen.add(deliveryId);
      const row = existing.get(deliveryId);
      if (created !== null) {
        const hour = Math.floor(created / 3_600_000) * 3_600_000;
        const h = shape.hours.get(hour) ?? { messages: 0, missing: 0 };
        h.messages++;
        if (!row) h.missing++;
        shape.hours.set(hour, h);
      }
      if (!row) {
        counts.deliveriesMissing++;
        missingDeliveries.add(deliveryId);
      }
      const missing: MessageMetric[] = [];
      for (const m of metrics) {
        const column = presenceColumn(m);
        const name = m.metric ?? "message";
        if (row && (column === null || row[column] !== null)) {
          if (m.metric !== null) {
            counts.metricsPresent++;
            shape.presentInKnown[name] = (shape.presentInKnown[name] ?? 0) + 1;
          }
          continue;
        }
        if (m.metric !== null) {
          counts.metricsMissing++;
          counts.missingByMetric[name] = (counts.missingByMetric[name] ?? 0) + 1;
          if (row) shape.missingInKnown[name] = (shape.missingInKnown[name] ?? 0) + 1;
        }
        missing.push(m);
      }
      if (dryRun || missing.length === 0) continue;
      // The first event keeps the whole message, the others only their own part. If the message is about
      // an erased person, every one of its events is stored without personal data (a failure message of
      // a slim event may name them too).
      const first = normalizeBackfill(backfillPayload(message, missing[0]!.appMetric), receivedAt);
      const erased = this.erasures.guard(first) !== first;
      const events = erased
        ? missing.map((m) => erasedBackfill(message, m.appMetric, receivedAt))
        : [first, ...missing.slice(1).map((m) => normalizeBackfill(backfillPayload(message, m.appMetric, false), receivedAt))];
      for (const [i, event] of events.entries()) {
        if (missing[i]!.metric !== null) metricEvents.add(event.eventId);
        writes.push({ event });
      }
    }
    if (dryRun) return counts;
    await this.write(writes, (inserted) => {
      // What was written is known once the statement ran, before the commit: it is counted with the page.
      counts.metricsAdded = [...inserted].filter((id) => metricEvents.has(id)).length;
      counts.deliveriesCreated = new Set(writes.filter((w) => inserted.has(w.event.eventId) && w.event.deliveryId !== null && missingDeliveries.has(w.event.deliveryId)).map((w) => w.event.deliveryId)).size;
      return runId ? { runId, counts, windowDays, step } : null;
    });
    return counts;
  }

  /** The page's events and the run's progress in one transaction (`record` says what to record, once the new events are known). */
  private async write(writes: Write[], record: (inserted: Set<string>) => { runId: string; counts: RunCounts; windowDays: number; step: WindowStep } | null): Promise<void> {
    const months = [...new Set(writes.map((w) => monthStart(w.event.occurredAt)))].filter((m) => !this.knownMonths.has(m));
    if (months.length > 0) {
      await ensurePartitions(this.pool, months);
      for (const m of months) this.knownMonths.add(m);
    }
    for (let attempt = 1; ; attempt++) {
      const client = await checkout(this.pool);
      try {
        await client.query("BEGIN");
        const { inserted } = writes.length > 0 ? await writeBatch(client, writes) : { inserted: new Set<string>() };
        const progress = record(inserted);
        if (progress) await recordPage(client, progress.runId, progress.counts, progress.windowDays, progress.step);
        await client.query("COMMIT");
        return;
      } catch (err) {
        await client.query("ROLLBACK").catch(() => undefined);
        const code = (err as { code?: string }).code ?? "";
        if (attempt < 5 && isMissingPartition(err)) {
          // Retention dropped a month meanwhile, or another process created it: make sure and go again.
          await ensurePartitions(this.pool, writes.map((w) => w.event.occurredAt));
          continue;
        }
        if (attempt < 5 && RETRYABLE.has(code)) continue;
        throw err;
      } finally {
        client.release();
      }
    }
  }
}
