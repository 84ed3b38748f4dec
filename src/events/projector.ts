// Owns applying queued webhook events to deliveries and person_subscriptions. A webhook is answered
// once its raw event and its projection_queue row are committed; this worker then folds the queue into
// the delivery and person rows in large batches (PROJECT_QUEUE_SQL), deleting the rows it applies in
// the same statement, so each event is applied exactly once, on whichever instance takes it (rows
// another instance is applying are skipped). A commit that queued events kicks it; it runs at most once
// per `intervalMs` unless the queue holds a full batch or more (then it goes on at once), so at a
// trickle each webhook does not pay for a projection statement of its own, and under load the batches
// grow. A timer also polls the queue, for rows left by a crash or queued through another process.
import type pg from "pg";
import type { Logger } from "../core/logger.js";
import { CLEARED_FIELDS } from "./event.js";
import { isDataError } from "./event-store.js";
import { PROJECT_QUEUE_SQL, QUEUE_COLUMNS } from "./projection.sql.js";

export interface ProjectorOptions {
  /** Most events applied in one statement. */
  batch: number;
  /** Least time between two runs started by kicks (the lag a trickle of webhooks sees, at most). */
  intervalMs: number;
  /** How often the queue is looked at without a kick. */
  pollMs: number;
}

export const DEFAULT_PROJECTOR: ProjectorOptions = { batch: 2000, intervalMs: 50, pollMs: 1000 };

export interface ProjectorStats {
  /** Runs finished (each applies batches until the queue is empty). */
  runs: number;
}

export class Projector {
  private running: Promise<void> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  private poller: NodeJS.Timeout | null = null;
  private lastStart = 0;
  private stopped = false;
  private failing = false;
  readonly stats: ProjectorStats = { runs: 0 };

  constructor(
    private readonly pool: pg.Pool,
    private readonly log: Logger,
    private readonly options: ProjectorOptions = DEFAULT_PROJECTOR,
  ) {}

  /** Starts polling and applies what an earlier run left queued. */
  start(): void {
    this.poller = setInterval(() => this.kick(), this.options.pollMs);
    this.poller.unref();
    this.kick();
  }

  /** Events were queued: apply them soon (at most one run in flight; a kick meanwhile runs once more after it). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) return;
    const wait = Math.max(0, this.lastStart + this.options.intervalMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.run().finally(() => {
        this.running = null;
        this.stats.runs++;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
    }, wait);
  }

  /** Applies batches until the queue is empty (or stopped); never throws (a failure is logged, the poll retries). */
  private async run(): Promise<void> {
    this.lastStart = Date.now();
    try {
      for (;;) {
        let n: number;
        try {
          n = await this.applyBatch();
        } catch (err) {
          if (!isDataError(err)) throw err;
          // One queued event's values broke the statement: apply the next ones one by one, so that
          // event alone is dealt with and the queue never stalls behind it.
          n = await this.applyOneByOne(this.options.batch);
        }
        if (this.failing) this.log.info("applying queued events to deliveries again");
        this.failing = false;
        if (n < this.options.batch || this.stopped) return;
      }
    } catch (err) {
      // The rows stay queued and are applied by the next run; the events themselves are committed.
      // Logged once per failing spell (the database is down, say), not at every poll.
      if (!this.failing) this.log.error({ err }, "applying queued events to deliveries failed; retrying every second");
      this.failing = true;
    }
  }

  /**
   * Applies up to `limit` queued events one at a time. An event PostgreSQL refuses to apply gets the
   * values that could break a constraint or an index cleared (as ingestion quarantines an event whose
   * content is refused; its stored event keeps them), then goes again; if it still fails it is left out
   * of the delivery row, with an error naming it. Returns how many were taken.
   */
  private async applyOneByOne(limit: number): Promise<number> {
    let taken = 0;
    while (taken < limit) {
      try {
        if ((await applyQueued(this.pool, 1)) === 0) return taken;
      } catch (err) {
        if (!isDataError(err)) throw err;
        const { rows } = await this.pool.query<{ event_id: string; cleared: boolean }>(
          `WITH head AS (SELECT seq FROM projection_queue ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED),
                gone AS (DELETE FROM projection_queue q USING head WHERE q.seq = head.seq AND ${CLEARED_COLUMNS.map((c) => `q.${c} IS NULL`).join(" AND ")}
                           RETURNING q.event_id, false AS cleared),
                cleared AS (UPDATE projection_queue q SET ${CLEARED_COLUMNS.map((c) => `${c} = NULL`).join(", ")}
                            FROM head WHERE q.seq = head.seq AND NOT EXISTS (SELECT 1 FROM gone) RETURNING q.event_id, true AS cleared)
           SELECT * FROM gone UNION ALL SELECT * FROM cleared`,
        );
        for (const r of rows) {
          this.log.error(
            { err, eventId: r.event_id },
            r.cleared ? "queued event refused by PostgreSQL; applying it without its person and failure fields" : "queued event refused by PostgreSQL even without them; left out of its delivery row",
          );
        }
      }
      taken++;
    }
    return taken;
  }

  private applyBatch(): Promise<number> {
    return applyQueued(this.pool, this.options.batch);
  }

  /**
   * Resolves once every event queued before the call is applied (by this instance or another). Tests and
   * tools that read deliveries right after a webhook use it; the service never needs it.
   */
  drain(): Promise<void> {
    return drainQueue(this.pool, this.options.batch);
  }

  /** Stops kicks and polling, waits for a run in flight, then applies what is left (graceful shutdown). */
  async stop(): Promise<void> {
    if (this.poller) clearInterval(this.poller);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.stopped = true;
    await this.running;
    try {
      while ((await this.applyBatch()) === this.options.batch);
    } catch (err) {
      this.log.warn({ err }, "queued events left for the next start to apply");
    }
  }
}

type Queryable = Pick<pg.Pool, "query"> | pg.PoolClient;

/** The queue's columns that CLEARED_FIELDS empties: what can break a constraint or an index downstream. */
const CLEARED_COLUMNS = Object.keys(CLEARED_FIELDS).map((k) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));
for (const c of CLEARED_COLUMNS) if (!QUEUE_COLUMNS.includes(c)) throw new Error(`CLEARED_FIELDS names ${c}, which projection_queue does not have`);

/** Applies up to `limit` queued events (those no other transaction holds), oldest first; returns how many. */
export async function applyQueued(db: Queryable, limit: number): Promise<number> {
  const { rows } = await db.query<{ events: number }>({ name: "project-queue", text: PROJECT_QUEUE_SQL, values: [limit] });
  return rows[0]!.events;
}

/**
 * Applies queued events until none committed before the call is left: rows another projector holds are
 * waited for, not skipped. Outside a transaction only: inside one, rows it has applied stay locked, and a
 * projector waiting for them would wait for it in turn.
 */
export async function drainQueue(db: Pick<pg.Pool, "query">, batch = DEFAULT_PROJECTOR.batch): Promise<void> {
  const { rows } = await db.query<{ last: string | null }>("SELECT max(seq) AS last FROM projection_queue");
  const last = rows[0]!.last;
  if (last === null) return;
  for (;;) {
    if ((await applyQueued(db, batch)) > 0) continue;
    const left = await db.query<{ queued: boolean }>("SELECT EXISTS (SELECT 1 FROM projection_queue WHERE seq <= $1) AS queued", [last]);
    if (!left.rows[0]!.queued) return;
    // Rows a run in flight (here or on another instance) holds: wait for its commit.
    await new Promise((r) => setTimeout(r, 5));
  }
}
