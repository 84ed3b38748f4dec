// Owns limiting unsubscribe POSTs that could be abuse, without refusing real people. A POST for a
// delivery we know is never refused for its source address: mailbox providers send their users'
// one-click unsubscribes from a few shared servers. POSTs for ids we do not know (guesses, floods) are
// limited per client address and overall, in fixed one-minute windows, per instance. Memory is bounded:
// at most `maxAddresses` addresses are counted per window; past that, new addresses count only against
// the overall limit.

export interface RateLimitOptions {
  /** POSTs for unknown ids per client address per minute. */
  perAddress: number;
  /** POSTs for unknown ids per minute, all addresses together. */
  overall: number;
  maxAddresses?: number;
}

export class UnknownIdRateLimiter {
  private window = 0;
  private total = 0;
  private perAddress = new Map<string, number>();

  constructor(private readonly options: RateLimitOptions) {}

  /** Seconds until the caller may try again, or 0 when the POST is allowed (and counted). */
  hit(address: string, now = Date.now()): number {
    const window = Math.floor(now / 60_000);
    if (window !== this.window) {
      // A new minute: the old counts go at once, in O(1).
      this.window = window;
      this.total = 0;
      this.perAddress = new Map();
    }
    const retryAfter = Math.max(1, Math.ceil(((window + 1) * 60_000 - now) / 1000));
    if (this.total >= this.options.overall) return retryAfter;
    const count = this.perAddress.get(address);
    if (count !== undefined && count >= this.options.perAddress) return retryAfter;
    this.total++;
    if (count !== undefined) this.perAddress.set(address, count + 1);
    else if (this.perAddress.size < (this.options.maxAddresses ?? 10_000)) this.perAddress.set(address, 1);
    return 0;
  }
}
