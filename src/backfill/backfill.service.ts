// Owns a backfill as `npm run backfill` runs it: resume the unfinished run of the same range and type
// from its checkpoint, or start a new one; hold the run's lock while working on it (a second process
// resuming the same run is told it is busy); record how it ended. A dry run reads and compares only: it
// records and writes nothing.
import type pg from "pg";
import { checkout } from "../core/database.js";
import { countsOf, createRun, emptyCounts, finishRun, findResumable, tryLockRun, unlockRun, type RunCounts, type RunRow } from "./backfill-runs.repository.js";
import type { FillProgress, MessageFiller } from "./message-filler.js";

export interface BackfillOptions {
  /** Messages created from `from` (included) to `to` (excluded), ms. */
  from: number;
  to: number;
  /** An App API message type, or null for all. */
  type: string | null;
  dryRun: boolean;
  signal?: AbortSignal;
  onProgress?: (p: FillProgress) => void;
  windowDays?: number;
}

export interface BackfillOutcome {
  /** The run (null for a dry run). */
  run: RunRow | null;
  /** What this invocation did. */
  counts: RunCounts;
  /** The run's counts before this invocation went on with it (a resumed run), or null. */
  resumedFrom: RunCounts | null;
  interrupted: boolean;
  elapsedMs: number;
}

/** Another process is working on this run right now. */
export class BackfillBusyError extends Error {
  constructor(readonly run: RunRow) {
    super(`another process is already backfilling this range (run ${run.id}, started ${run.started_at.toISOString()}, last progress ${run.updated_at.toISOString()})`);
    this.name = "BackfillBusyError";
  }
}

export async function runBackfill(pool: pg.Pool, filler: MessageFiller, options: BackfillOptions): Promise<BackfillOutcome> {
  const { from, to, type } = options;
  if (options.dryRun) {
    const result = await filler.fill({ from, to, type, dryRun: true, signal: options.signal, onProgress: options.onProgress, windowDays: options.windowDays });
    return { run: null, counts: result.counts, resumedFrom: null, interrupted: result.interrupted, elapsedMs: result.elapsedMs };
  }
  const lock = await checkout(pool);
  let run: RunRow | undefined;
  try {
    const resumable = await findResumable(pool, { from, to, type });
    if (resumable) {
      if (!(await tryLockRun(lock, resumable.id))) throw new BackfillBusyError(resumable);
      run = resumable;
    } else {
      run = await createRun(pool, { kind: "backfill", from, to, type });
      await tryLockRun(lock, run.id);
    }
    const resumedFrom = resumable ? countsOf(resumable) : null;
    try {
      const result = await filler.fill({
        from, to, type, runId: run.id, checkpoint: run.checkpoint, signal: options.signal, onProgress: options.onProgress, windowDays: options.windowDays,
      });
      const final = result.interrupted ? ((await findResumable(pool, { from, to, type })) ?? run) : await finishRun(pool, run.id, { status: "done" });
      return { run: final, counts: result.counts, resumedFrom, interrupted: result.interrupted, elapsedMs: result.elapsedMs };
    } catch (err) {
      await finishRun(pool, run.id, { status: "failed", error: (err as Error).message.slice(0, 2000) }).catch(() => undefined);
      throw err;
    }
  } finally {
    if (run) await unlockRun(lock, run.id).catch(() => undefined);
    lock.release();
  }
}

export { emptyCounts };
