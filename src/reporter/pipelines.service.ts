// Owns accepting one Data Pipelines request (/v1/batch or a single call): validate it, keep its write
// key (by reference), and commit every call to the outbox before the caller is answered. A "Report
// Delivery Event" track also becomes a delivery event (source = relay) through the event store, in the
// same statement as its outbox row, so the delivery row shows the metric at once. The request's other
// calls are queued in one statement of their own; both are idempotent by messageId, so if one of them
// fails (503) the client's retry completes the request without queuing anything twice.
import type pg from "pg";
import type { EventSink } from "../events/event-store.js";
import { normalizePipelinesDelivery, pipelinesEventId } from "../events/pipelines-event.js";
import { enqueue, type NewOutboxItem } from "./outbox.repository.js";
import { prepareCalls, type PipelinesEndpoint } from "./pipelines-body.js";
import { writeKeyRef, type PipelinesKeys } from "./pipelines-keys.repository.js";

export type PipelinesOutcome = { ok: true; calls: number; queued: number } | { ok: false; errors: string[] };

/** The payload of a `cdp_call` outbox row: the write key's reference and the call as it is forwarded. */
export interface CdpCallPayload {
  source: string;
  call: Record<string, unknown>;
}

export class PipelinesService {
  constructor(
    private readonly store: EventSink,
    private readonly db: Pick<pg.Pool, "query">,
    private readonly keys: Pick<PipelinesKeys, "remember">,
    private readonly onQueued: () => void,
  ) {}

  async accept(writeKey: string, endpoint: PipelinesEndpoint, body: unknown, receivedAt: number = Date.now()): Promise<PipelinesOutcome> {
    const source = writeKeyRef(writeKey);
    const prepared = prepareCalls(endpoint, body, source, receivedAt);
    if (!prepared.ok) return { ok: false, errors: prepared.errors };
    await this.keys.remember(writeKey);
    const plain: NewOutboxItem[] = [];
    const deliveries: Array<Promise<{ status: string }>> = [];
    for (const { call, messageId, delivery } of prepared.calls) {
      const eventId = pipelinesEventId(source, messageId);
      const payload: CdpCallPayload = { source, call };
      if (delivery) {
        const event = normalizePipelinesDelivery(call, eventId, receivedAt);
        deliveries.push(this.store.store({ event, outbox: [{ eventId, kind: "cdp_call", deliveryId: event.deliveryId, payload: { ...payload } }] }));
      } else {
        plain.push({ eventId, kind: "cdp_call", deliveryId: null, payload: { ...payload } });
      }
    }
    const [queuedPlain, stored] = await Promise.all([enqueue(this.db, plain), Promise.all(deliveries)]);
    const queued = queuedPlain + stored.filter((s) => s.status === "stored").length;
    if (queued > 0) this.onQueued();
    return { ok: true, calls: prepared.calls.length, queued };
  }
}
