// Owns coalescing point lookups: keys asked for while a lookup is in flight are fetched together in
// the next one (one query, one pooled connection), and a lone key is fetched at once. A burst of
// requests that each need one row costs a few queries instead of one connection each.

type Waiter<V> = { resolve: (value: V | undefined) => void; reject: (err: unknown) => void };

export class BatchLoader<K, V> {
  private queue = new Map<K, Waiter<V>[]>();
  private inFlight = 0;

  constructor(
    private readonly load: (keys: K[]) => Promise<Map<K, V>>,
    private readonly options: { maxBatch: number; maxInFlight: number } = { maxBatch: 500, maxInFlight: 1 },
  ) {}

  /** The value for `key`, or undefined when there is none. */
  get(key: K): Promise<V | undefined> {
    return new Promise((resolve, reject) => {
      const waiting = this.queue.get(key);
      if (waiting) waiting.push({ resolve, reject });
      else this.queue.set(key, [{ resolve, reject }]);
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.options.maxInFlight && this.queue.size > 0) {
      const batch = new Map<K, Waiter<V>[]>();
      for (const [key, waiters] of this.queue) {
        if (batch.size >= this.options.maxBatch) break;
        batch.set(key, waiters);
        this.queue.delete(key);
      }
      this.inFlight++;
      this.load([...batch.keys()]).then(
        (found) => {
          for (const [key, waiters] of batch) for (const w of waiters) w.resolve(found.get(key));
        },
        (err: unknown) => {
          for (const waiters of batch.values()) for (const w of waiters) w.reject(err);
        },
      ).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }
}
