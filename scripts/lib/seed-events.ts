// History for tests and benchmarks that need many stored events: Customer.io-shaped webhook events
// (sent, delivered, opened, clicked for each delivery, over a range of days) written through the real
// write path (writeBatch) in large batches, so deliveries and the rollup are built as ingestion builds them.
import type pg from "pg";
import { normalizeEvent, type JsonObject } from "../../src/events/event.js";
import { writeBatch } from "../../src/events/event-store.js";
import { messageEvent } from "./sample-events.js";

const METRICS = ["sent", "delivered", "opened", "clicked"] as const;

export interface SeedOptions {
  deliveries: number;
  /** Delivery ids are `${prefix}-${n}`. */
  prefix: string;
  /** Events spread over this many days before `endSeconds` (default: 30 days ending now). */
  days?: number;
  endSeconds?: number;
  batch?: number;
}

/** Stores 4 events per delivery; returns the number of events stored. */
export async function seedWebhookEvents(pool: Pick<pg.Pool, "query">, o: SeedOptions): Promise<number> {
  const end = o.endSeconds ?? Math.floor(Date.now() / 1000);
  const span = (o.days ?? 30) * 86400;
  const batch = o.batch ?? 2000;
  let stored = 0;
  let writes = [];
  for (let i = 0; i < o.deliveries; i++) {
    const sentAt = end - span + Math.floor((i / o.deliveries) * span);
    for (const [k, metric] of METRICS.entries()) {
      const event = messageEvent({ objectType: "email", metric, deliveryId: `${o.prefix}-${i}`, timestamp: sentAt + k * 60, origin: { campaign_id: 1 + (i % 20), journey_id: "01J000000000000000000JRNY" } }) as JsonObject;
      writes.push({ event: normalizeEvent(event, JSON.stringify(event), "webhook") });
    }
    if (writes.length >= batch || i === o.deliveries - 1) {
      stored += (await writeBatch(pool, writes)).inserted.size;
      writes = [];
    }
  }
  return stored;
}
