// Owns pacing requests toward Customer.io. Request starts are spaced at least 1/rate apart, so the
// rate over any window of a second or more never exceeds the limit. The slots are reserved in
// PostgreSQL (one row per limit), so the limit holds for all instances together; pause() pushes the
// next slot out for everyone (a 429 with Retry-After).
import type pg from "pg";
import { reserveAttempt } from "./outbox.repository.js";

export class RateLimiter {
  constructor(
    private readonly pool: Pick<pg.Pool, "query">,
    private readonly perSecond: number,
    private readonly name = "customerio-track",
  ) {}

  /** Counts an attempt for the rows about to be sent and resolves when their request may start. */
  async take(ids: readonly string[], token: string): Promise<void> {
    const wait = await reserveAttempt(this.pool, ids, token, this.name, this.perSecond);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }

  async pause(ms: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO rate_limits AS r (name, next_slot) VALUES ($1, clock_timestamp() + make_interval(secs => $2))
       ON CONFLICT (name) DO UPDATE SET next_slot = GREATEST(r.next_slot, clock_timestamp() + make_interval(secs => $2))`,
      [this.name, ms / 1000],
    );
  }
}
