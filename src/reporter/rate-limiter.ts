// Owns pacing requests toward Customer.io. Request starts are spaced about 1/rate apart, so the rate
// over any window of a second never exceeds the limit by more than one request. The slots are
// reserved in PostgreSQL (one row per limit), so the limit holds for all instances together; pause()
// pushes the next slot out for everyone (a 429 with Retry-After).
//
// A slot is a time on the server's clock. The caller waits until that time on its own clock, not for
// "the wait the server computed", so a slow round trip does not shift the start. The offset between the
// clocks is measured as NTP does, from the reservation with the shortest round trip seen lately: a
// reservation that waited for a pooled connection would make it up to half that wait wrong. A start that would come more than half a slot after its time (a
// busy event loop, a slow reservation) would bunch with the next slot's: that slot is given up and
// another reserved, so two starts are never less than half a slot apart.
import type pg from "pg";
import { metrics } from "../core/metrics.js";
import { reserveSlot } from "./outbox.repository.js";

/** Late starts in a row after which a request goes anyway (a machine too busy to keep any slot). */
const MAX_LATE = 5;

export class RateLimiter {
  private readonly intervalMs: number;
  /** The clock offset (server minus ours) from the fastest recent round trip, and that round trip. */
  private clock = { offset: 0, rtt: Infinity, at: 0 };

  constructor(
    private readonly pool: Pick<pg.Pool, "query">,
    private readonly perSecond: number,
    private readonly name = "customerio-track",
  ) {
    this.intervalMs = 1000 / perSecond;
  }

  /** Counts an attempt for the rows about to be sent and resolves when their request may start. */
  async take(ids: readonly string[], token: string): Promise<void> {
    const started = performance.now();
    try {
      await this.takeSlot(ids, token);
    } finally {
      metrics.rateLimitWaited(this.name, (performance.now() - started) / 1000);
    }
  }

  private async takeSlot(ids: readonly string[], token: string): Promise<void> {
    for (let late = 0; ; late++) {
      const sent = Date.now();
      const { slotAt, now } = await reserveSlot(this.pool, this.name, this.perSecond, late === 0 ? { ids, token } : null);
      const received = Date.now();
      const rtt = received - sent;
      if (rtt <= this.clock.rtt || received - this.clock.at > 60_000) this.clock = { offset: now - (sent + received) / 2, rtt, at: received };
      const localSlot = slotAt - this.clock.offset;
      const wait = localSlot - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (Date.now() - localSlot <= this.intervalMs / 2 || late >= MAX_LATE) return;
    }
  }

  async pause(ms: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO rate_limits AS r (name, next_slot) VALUES ($1, clock_timestamp() + make_interval(secs => $2))
       ON CONFLICT (name) DO UPDATE SET next_slot = GREATEST(r.next_slot, clock_timestamp() + make_interval(secs => $2))`,
      [this.name, ms / 1000],
    );
  }
}
