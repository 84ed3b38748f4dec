// Owns reading what we know of a delivery before writing for it: its channel (the relay checks a
// metric against it), its recipient and person (the unsubscribe page and attribute updates), and its
// current unsubscribe state. Lookups from concurrent requests share one query.
import type pg from "pg";
import { BatchLoader } from "../core/batch-loader.js";

export interface DeliveryFacts {
  channel: string | null;
  recipient: string | null;
  /** identifiers.id, else customer_id: who Customer.io's people API knows this delivery's person as. */
  personId: string | null;
  /** The latest recorded unsubscribe (true) or resubscribe (false); null when neither. */
  unsubscribed: boolean | null;
}

export class DeliveryLookup {
  private loader: BatchLoader<string, DeliveryFacts>;

  constructor(pool: Pick<pg.Pool, "query">) {
    this.loader = new BatchLoader(async (ids) => {
      const { rows } = await pool.query<DeliveryFacts & { delivery_id: string }>({
        name: "delivery-facts",
        text: `SELECT d.delivery_id, d.channel, d.recipient, coalesce(d.identifiers ->> 'id', d.customer_id) AS "personId",
                 (SELECT u.unsubscribe FROM unsubscribes u WHERE u.delivery_id = d.delivery_id ORDER BY u.id DESC LIMIT 1) AS unsubscribed
               FROM deliveries d WHERE d.delivery_id = ANY($1::text[])`,
        values: [ids],
      });
      return new Map(rows.map(({ delivery_id, ...facts }) => [delivery_id, facts]));
    });
  }

  /** What we know of the delivery, or undefined for one we have never seen. */
  get(deliveryId: string): Promise<DeliveryFacts | undefined> {
    return this.loader.get(deliveryId);
  }
}
