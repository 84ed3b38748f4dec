// Owns accepting one relayed metric: validate it against what we know of the delivery, then, in one
// transaction, store it as a delivery_events row (source = relay), apply it to its deliveries row, and
// queue it in the outbox. The caller answers only after the commit; then the sender is kicked.
import type pg from "pg";
import { inTransaction } from "../core/database.js";
import type { JsonObject } from "../webhooks/event.js";
import { writeBatch } from "../webhooks/event-store.js";
import { enqueue } from "./outbox.repository.js";
import { normalizeRelay, outboundBody, validateRelayBody, type RelayKind } from "./relay-event.js";

export type RelayOutcome = { ok: true; duplicate: boolean } | { ok: false; errors: string[] };

export class RelayService {
  constructor(
    private readonly pool: pg.Pool,
    private readonly onQueued: () => void,
  ) {}

  async accept(kind: RelayKind, body: JsonObject): Promise<RelayOutcome> {
    const deliveryId = typeof body["delivery_id"] === "string" ? body["delivery_id"] : null;
    const channel = deliveryId && kind === "metric" ? await this.channelOf(deliveryId) : null;
    const errors = validateRelayBody(kind, body, channel);
    if (errors.length > 0) return { ok: false, errors };

    const event = normalizeRelay(body);
    const inserted = await inTransaction(this.pool, async (client) => {
      const ids = await writeBatch(client, [event]);
      if (ids.has(event.eventId)) {
        await enqueue(client, [{ eventId: event.eventId, kind, deliveryId: event.deliveryId, payload: outboundBody(body, event) }]);
      }
      return ids;
    });
    if (inserted.size > 0) this.onQueued();
    return { ok: true, duplicate: inserted.size === 0 };
  }

  private async channelOf(deliveryId: string): Promise<string | null> {
    const { rows } = await this.pool.query<{ channel: string | null }>({ name: "delivery-channel", text: "SELECT channel FROM deliveries WHERE delivery_id = $1", values: [deliveryId] });
    return rows[0]?.channel ?? null;
  }
}
